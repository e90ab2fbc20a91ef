"""genai-prices' data for the models we price, as a small table that can live in a file.

Owns `PriceTable`, `KnownModel` and `Rates`. Importing genai-prices costs
~200 ms and ~5 MiB of resident memory for the whole life of the process, but
the catalog and the cost calculation only need a few numbers per model. The
table asks genai-prices once per (provider, model ref), keeps the answer
(including "unknown") as plain Decimals, and can be saved to and loaded from
a JSON file keyed by the installed genai-prices version, so a start-up with
a current file never imports genai-prices at all. Every model's conditional
prices are kept with their conditions (start dates, off-peak hours), so
which price applies is decided at lookup time exactly as genai-prices
decides it.

It never touches the network (genai-prices' `UpdatePrices` is never
started). Reading and writing the cache file happens only in `load` and
`save`; a missing, stale or corrupt file is ignored, never an error.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_FORMAT",
    "GENAI_PRICES_PROVIDERS",
    "TABLE",
    "KnownModel",
    "Price",
    "PriceTable",
    "Rates",
    "Tiered",
    "base_price",
    "genai_prices_provider",
    "genai_prices_version",
]

log = logging.getLogger(__name__)

CACHE_FORMAT = 2
"""Bumped whenever the file layout or what an entry means changes (2: `cache_write`)."""

# Our provider ids where genai-prices names the provider differently.
GENAI_PRICES_PROVIDERS: Mapping[str, str] = {"gemini": "google", "xai": "x-ai"}

# Per-token price keys that a `Usage` of ours never has a count for (so they add
# nothing to a cost); any other key on a tiered price sends its cost to genai-prices.
_ZERO_COUNT_KEYS = frozenset(
    {
        "cache_write_1h_mtok",
        "input_audio_mtok",
        "cache_audio_read_mtok",
        "output_audio_mtok",
        "web_searches_kcount",
        "storage_searches_kcount",
    }
)
_TOKEN_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")


def genai_prices_provider(provider: str) -> str:
    """The genai-prices provider id for one of our provider ids."""
    return GENAI_PRICES_PROVIDERS.get(provider, provider)


def genai_prices_version() -> str:
    """The installed genai-prices version, read from its metadata without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return "not installed"


@dataclass(frozen=True, slots=True)
class Tiered:
    """A price that changes once the request's input tokens pass a threshold.

    The tier whose `start` the input exceeds applies to every token (the
    "cliff" model genai-prices and the providers use).
    """

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...]  # (start, price), ascending start

    def at(self, input_tokens: int) -> Decimal:
        for start, price in reversed(self.tiers):
            if input_tokens > start:
                return price
        return self.base


Price = Decimal | Tiered


def base_price(price: Price | None) -> Decimal | None:
    """A flat price, or the below-the-first-tier price of a tiered one."""
    return price.base if isinstance(price, Tiered) else price


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens of one model at one moment.

    `cache_read` and `cache_write` are None when genai-prices has no such
    price for the model; those tokens then cost the input price, as
    genai-prices charges them. `exact` is False when the price has parts our
    arithmetic does not cover (a tiered price with a per-request fee, say);
    its cost then comes from genai-prices itself.
    """

    input: Price | None
    output: Price | None
    cache_read: Price | None
    exact: bool = True
    cache_write: Price | None = None

    def is_flat(self) -> bool:
        return not any(
            isinstance(p, Tiered)
            for p in (self.input, self.output, self.cache_read, self.cache_write)
        )


@dataclass(frozen=True, slots=True)
class _Conditional:
    """Rates with the condition under which they apply (None: always)."""

    rates: Rates
    since: date | None = None  # UTC date the price starts
    between: tuple[time, time] | None = None  # daily UTC interval, [start, end)

    def active(self, now: datetime) -> bool:
        if self.since is not None:
            return now.date() >= self.since
        if self.between is not None:
            start, end = self.between
            clock = now.time()
            if end < start:
                return clock >= start or clock < end
            return start <= clock < end
        return True


@dataclass(frozen=True, slots=True)
class KnownModel:
    """What genai-prices knows about one model ref at one provider."""

    provider_id: str
    ref: str
    prices: tuple[_Conditional, ...]  # never empty

    def rates(self, now: datetime | None = None) -> Rates:
        """The rates in force at `now` (default: the current time), as genai-prices picks them.

        The last price whose condition holds wins; when none holds, the first.
        """
        moment = (now or datetime.now(tz=UTC)).astimezone(UTC)
        for conditional in reversed(self.prices):
            if conditional.active(moment):
                return conditional.rates
        return self.prices[0].rates


class PriceTable:
    """(genai provider id, model ref) → `KnownModel`, or None when genai-prices does not know it.

    A miss asks genai-prices (importing it then, once) and is remembered.
    Thread-safe enough for its use: entries are only ever added, and two
    threads computing the same entry store equal values.
    """

    def __init__(self, version: str | None = None) -> None:
        self._version = version
        self._models: dict[tuple[str, str], KnownModel | None] = {}
        self._asked = 0
        # genai-prices' provider ids, when a loaded file listed them: a ref at any other
        # provider (a local or custom one) is a miss known without importing genai-prices
        self._providers: frozenset[str] | None = None

    @property
    def asked(self) -> int:
        """How many entries this table has asked genai-prices for (each is asked once)."""
        return self._asked

    @property
    def version(self) -> str:
        if self._version is None:
            self._version = genai_prices_version()
        return self._version

    def model(self, provider_id: str, ref: str) -> KnownModel | None:
        """genai-prices' entry for `ref` at `provider_id`; None when it does not know it."""
        key = (provider_id, ref)
        try:
            return self._models[key]
        except KeyError:
            pass
        if self._providers is not None and provider_id not in self._providers:
            return None
        found = _ask_genai_prices(provider_id, ref)
        self._models[key] = found
        self._asked += 1
        return found

    def find(self, provider: str, upstream_id: str, model_id: str) -> KnownModel | None:
        """The entry for a catalog model: by upstream id, then by catalog id.

        `provider` is ours; a ref prefixed with the serving provider's name
        (`openai/gpt-4o` at openai) is looked up without the prefix.
        """
        provider_id = genai_prices_provider(provider)
        for candidate in dict.fromkeys((upstream_id, model_id)):
            found = self.model(provider_id, _strip_prefix(candidate, provider, provider_id))
            if found is not None:
                return found
        return None

    def __len__(self) -> int:
        return len(self._models)

    def load(self, path: Path) -> bool:
        """Take the entries saved in `path`; False (and nothing taken) when it is missing,
        unreadable, corrupt, or written for another genai-prices version or format."""
        try:
            raw = json.loads(path.read_bytes())
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            if raw.get("format") != CACHE_FORMAT or raw.get("genai_prices") != self.version:
                log.debug("price cache %s is for another genai-prices version", path)
                return False
            models = dict(_decode_entries(raw["models"]))
            providers = raw.get("providers")
            if providers is not None and not (
                isinstance(providers, list) and all(isinstance(p, str) for p in providers)
            ):
                raise ValueError("'providers' is not a list of ids")
        except FileNotFoundError:
            return False
        except (OSError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
            log.warning("ignoring the price cache %s: %s", path, exc)
            return False
        for key, value in models.items():
            self._models.setdefault(key, value)
        if providers is not None:
            self._providers = frozenset(providers)
        return True

    def save(self, path: Path) -> None:
        """Write the table to `path` atomically.

        A failure is logged, never raised: the cache only saves time.
        """
        payload = {
            "format": CACHE_FORMAT,
            "genai_prices": self.version,
            "models": [_encode_entry(key, value) for key, value in self._models.items()],
            "providers": sorted(self._providers or _genai_prices_provider_ids()),
        }
        data = json.dumps(payload, indent=0, sort_keys=True).encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("cannot write the price cache %s: %s", path, exc)


TABLE = PriceTable()
"""The process's table. One is right: it memoises a pure function of the installed
genai-prices data, which cannot change while the process runs."""


# -- asking genai-prices ---------------------------------------------------------------


def _genai_prices_provider_ids() -> frozenset[str]:
    from genai_prices import data

    return frozenset(provider.id for provider in data.providers)


def _ask_genai_prices(provider_id: str, ref: str) -> KnownModel | None:
    from genai_prices import Usage, calc_price  # ~200 ms, ~5 MiB: only on a miss

    try:
        calc = calc_price(Usage(input_tokens=1, output_tokens=1), ref, provider_id=provider_id)
    except LookupError:
        return None
    prices = calc.model.prices
    if not isinstance(prices, list):
        return KnownModel(provider_id, ref, (_Conditional(_rates_of(prices)),))
    conditionals = tuple(_conditional_of(c) for c in prices)
    return KnownModel(provider_id, ref, conditionals) if conditionals else None


def _conditional_of(conditional: Any) -> _Conditional:
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    rates = _rates_of(conditional.prices)
    constraint = conditional.constraint
    if constraint is None:
        return _Conditional(rates)
    if isinstance(constraint, StartDateConstraint):
        return _Conditional(rates, since=constraint.start_date)
    if isinstance(constraint, TimeOfDateConstraint):
        return _Conditional(rates, between=(_utc(constraint.start_time), _utc(constraint.end_time)))
    raise TypeError(f"unknown genai-prices constraint {type(constraint).__name__}")


def _utc(value: time) -> time:
    """A time of day as a naive UTC time (naive input is UTC already)."""
    if value.tzinfo is None:
        return value
    return datetime.combine(date(1970, 1, 1), value).astimezone(UTC).time()


def _rates_of(model_price: Any) -> Rates:
    from genai_prices.types import TieredPrices

    keys = {
        key
        for key, value in vars(model_price).items()
        if value is not None and not key.startswith("_")
    }
    values: list[Price | None] = []
    for key in _TOKEN_KEYS:
        value = getattr(model_price, key, None)
        if isinstance(value, TieredPrices):
            values.append(
                Tiered(value.base, tuple((tier.start, tier.price) for tier in value.tiers))
            )
        elif value is None or isinstance(value, Decimal):
            values.append(value)
        else:
            raise TypeError(f"unexpected genai-prices price {value!r}")
    inp, out, cache_read, cache_write = values
    if inp is None or out is None:
        return Rates(inp, out, cache_read, exact=False, cache_write=cache_write)
    if any(isinstance(v, Tiered) for v in values):
        # Flat prices are charged for input, cache reads and writes and output only, as
        # before this table existed; a tiered one must be fully covered by that arithmetic.
        extra = keys - set(_TOKEN_KEYS) - _ZERO_COUNT_KEYS
        exact = cache_read is not None and not extra
        return Rates(inp, out, cache_read, exact=exact, cache_write=cache_write)
    return Rates(inp, out, cache_read, cache_write=cache_write)


def _strip_prefix(model_ref: str, provider: str, provider_id: str) -> str:
    """`openai/gpt-4o` → `gpt-4o` when the prefix names the serving provider itself."""
    prefix, sep, rest = model_ref.partition("/")
    if sep and prefix in (provider, provider_id):
        return rest
    return model_ref


# -- the cache file ----------------------------------------------------------------------


def _encode_entry(key: tuple[str, str], value: KnownModel | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"provider": key[0], "ref": key[1]}
    if value is not None:
        entry["prices"] = [_encode_conditional(c) for c in value.prices]
    return entry


def _encode_conditional(conditional: _Conditional) -> dict[str, Any]:
    rates = conditional.rates
    out: dict[str, Any] = {
        "input": _encode_price(rates.input),
        "output": _encode_price(rates.output),
        "cache_read": _encode_price(rates.cache_read),
        "cache_write": _encode_price(rates.cache_write),
        "exact": rates.exact,
    }
    if conditional.since is not None:
        out["since"] = conditional.since.isoformat()
    if conditional.between is not None:
        out["between"] = [t.isoformat() for t in conditional.between]
    return out


def _encode_price(price: Price | None) -> Any:
    if isinstance(price, Tiered):
        return {"base": str(price.base), "tiers": [[s, str(p)] for s, p in price.tiers]}
    return None if price is None else str(price)


def _decode_entries(raw: Any) -> Iterator[tuple[tuple[str, str], KnownModel | None]]:
    if not isinstance(raw, list):
        raise ValueError("'models' is not a list")
    for entry in raw:
        provider_id, ref = _text(entry["provider"]), _text(entry["ref"])
        prices = entry.get("prices")
        if prices is None:
            yield (provider_id, ref), None
            continue
        conditionals = tuple(_decode_conditional(c) for c in prices)
        if not conditionals:
            raise ValueError(f"no prices for {ref!r}")
        yield (provider_id, ref), KnownModel(provider_id, ref, conditionals)


def _decode_conditional(raw: Mapping[str, Any]) -> _Conditional:
    exact = raw["exact"]
    if not isinstance(exact, bool):
        raise ValueError("'exact' is not a boolean")
    rates = Rates(
        _decode_price(raw["input"]),
        _decode_price(raw["output"]),
        _decode_price(raw["cache_read"]),
        exact,
        _decode_price(raw["cache_write"]),
    )
    since = raw.get("since")
    between = raw.get("between")
    return _Conditional(
        rates,
        since=date.fromisoformat(_text(since)) if since is not None else None,
        between=(
            (time.fromisoformat(_text(between[0])), time.fromisoformat(_text(between[1])))
            if between is not None
            else None
        ),
    )


def _decode_price(raw: Any) -> Price | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        tiers = tuple((_count(s), _decimal(p)) for s, p in raw["tiers"])
        return Tiered(_decimal(raw["base"]), tiers)
    return _decimal(raw)


def _decimal(raw: Any) -> Decimal:
    value = Decimal(_text(raw))
    if not value.is_finite() or value < 0:
        raise ValueError(f"bad price {raw!r}")
    return value


def _count(raw: Any) -> int:
    if type(raw) is not int or raw < 0:
        raise ValueError(f"bad tier start {raw!r}")
    return raw


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected a string, got {raw!r}")
    return raw
