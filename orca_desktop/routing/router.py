"""The routing decision: from a requested model form to an ordered chain of candidates.

Owns `Router`, `RouteDecision`, `Candidate` and `RoutingError`. Pure and
synchronous: `decide` reads the catalog's precomputed rows, the cool-down and
latency tables and the request's requirements, and returns in microseconds.
Per-(capabilities, context size, reach) pools of eligible models are built
on first use and cached. An id served by one catalog entry is decided
without scanning the prompt when the answer cannot depend on it (the
estimate is made when its cost is first read). It never does I/O, never
awaits, never sees a key.

Model forms (PRODUCT.md "Model forms"): a plain id; `provider/id` (pins the
provider); `auto`, `router`, `default`, `orbitrage`, `orcarouter/auto` (the
auto router: cheapest reachable capable model); `orcarouter/NAME` (a
configured router); a request fallback list (`models` + `route`). An id the
catalog does not know that is a known id plus a snapshot date
(`gpt-4o-2024-08-06`, `claude-sonnet-4-5-20250929`) is that entry, asked of
its own provider by the dated id (see `catalog.undated`, `reach.route_for`).

Capabilities and context are filtered only where Orca chooses: the auto
router, named routers (their `models` lists included) and rules. A model the
user named — a plain id, `provider/id`, or an entry of a request's fallback
list (`models`, `route: "fallback"`) — is an explicit choice: the catalog's
capability table and context windows are ours and can be wrong, so such a
model goes to its provider, which decides; only a missing key excludes it.
The catalog's doubts are not hidden: they are ordered last among the named
model's providers, and the reason says what the catalog expected ("requested
gpt-x (the catalog says: lacks tools; sent anyway)"). A fallback list is tried
in the order given, never reordered by capability.

For the auto router, `candidates` also name the models cheaper than the
choice that could not be used and why: up to AUTO_CHAIN_LENGTH reachable ones
lacking a capability or the context, and up to AUTO_CHAIN_LENGTH without a key
or cooling down, so a catalog of hundreds stays a few dozen comparisons.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from orca_desktop.config import Config, ConfigError, RouterConfig
from orca_desktop.routing.catalog import Catalog, ModelInfo, undated
from orca_desktop.routing.cooldown import Cooldowns, LatencyTracker
from orca_desktop.routing.reach import Reach, no_key_message, no_key_reason, route_for
from orca_desktop.routing.requirements import CAPABILITY_BITS, REASONING, VISION, Requirements
from orca_desktop.routing.strategies import (
    Option,
    Row,
    rank_by_cost,
    rank_by_latency,
    rule_matches,
    skyband,
)

AUTO_ALIASES = frozenset({"auto", "router", "default", "orbitrage", "orcarouter/auto"})
ROUTER_PREFIX = "orcarouter/"
AUTO_CHAIN_LENGTH = 6  # the auto router's chain: the cheapest few, not the whole catalog
_POOL_CACHE_LIMIT = 4096
_DATED_CACHE_LIMIT = 1024

_Target = tuple[tuple[Row, ...], str | None]
"""The rows one requested name stands for, and the dated id to ask their providers
for (None: each entry's own upstream id)."""


class Candidate:
    """One way to serve the request; `excluded` is None when it may be tried.

    `via` receives the call with model `upstream_model`; cool-downs and
    latency are keyed by that pair. Read-only once made. The cost estimate
    may be given as a function, called when the cost is first read (a pinned
    request's estimate is made after it went upstream).
    """

    __slots__ = ("_cost", "byok", "excluded", "model", "upstream_model", "via")

    def __init__(
        self,
        model: ModelInfo,
        via: str,
        upstream_model: str,
        byok: bool,
        estimated_cost_usd: Decimal | Callable[[], Decimal],
        excluded: str | None,
    ) -> None:
        self.model = model
        self.via = via
        self.upstream_model = upstream_model
        self.byok = byok
        self._cost = estimated_cost_usd
        self.excluded = excluded

    @property
    def estimated_cost_usd(self) -> Decimal:
        cost = self._cost
        if not isinstance(cost, Decimal):
            cost = self._cost = cost()
        return cost

    def _values(self) -> tuple[ModelInfo, str, str, bool, Decimal, str | None]:
        return (
            self.model,
            self.via,
            self.upstream_model,
            self.byok,
            self.estimated_cost_usd,
            self.excluded,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candidate):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        model, via, upstream, byok, cost, excluded = self._values()
        return (
            f"Candidate(model={model.id!r}/{model.provider!r}, via={via!r}, "
            f"upstream_model={upstream!r}, byok={byok}, estimated_cost_usd={cost}, "
            f"excluded={excluded!r})"
        )


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """What the router decided: everything considered, and the order to try.

    `chain` holds only eligible candidates, cooling ones last. For the auto
    router, `candidates` is the chain plus the cheaper models it could not
    use (at most AUTO_CHAIN_LENGTH of them), not the whole catalog.
    """

    router: str
    strategy: str
    reason: str
    candidates: tuple[Candidate, ...]
    chain: tuple[Candidate, ...]

    @property
    def route_label(self) -> str:
        """The `X-Orca-Route` value, e.g. `auto/cheapest`."""
        return f"{self.router}/{self.strategy}"


class RoutingError(Exception):
    """No candidate can serve the request; carries the HTTP status to answer with.

    404 `model_not_found`, 400 `no_capable_model` / `invalid_route` /
    `router_cycle`, 424 `provider_key_missing`.
    """

    def __init__(
        self, status: int, message: str, *, code: str, param: str | None = "model"
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.candidates: tuple[Candidate, ...] = ()  # what was considered, for telemetry


@dataclass(slots=True)
class _Plan:
    candidates: list[Candidate]
    chain: list[Candidate]
    reason: str
    error: RoutingError | None = None  # raised by `decide` when the chain is empty
    doubt: str = ""  # a named model sent although the catalog says it cannot serve this


@dataclass(frozen=True, slots=True)
class _Ask:
    """The per-request inputs every resolver needs."""

    req: Requirements
    reach: Reach
    prompt_tokens: int
    output_tokens: int
    mask: int
    need: int


@dataclass(slots=True)
class _Pool:
    """The eligible options for one (capabilities, context bucket, reach), with skybands."""

    options: list[Option]
    band: list[Option] = field(default_factory=list)
    wider: dict[int, list[Option]] = field(default_factory=dict)
    notable: list[Option] | None = None  # `Router._notable_band`, on the pool of any model

    def band_for(self, k: int) -> list[Option]:
        band = self.wider.get(k)
        if band is None:
            band = self.wider[k] = skyband(self.options, k)
        return band


class Router:
    """Turns (model form, requirements, reach) into a RouteDecision.

    Built once per catalog/config; raises ConfigError at construction when a
    configured router refers to an unknown model or router, or when routers
    refer to each other in a cycle.
    """

    def __init__(
        self, catalog: Catalog, config: Config, cooldowns: Cooldowns, latency: LatencyTracker
    ) -> None:
        self._catalog = catalog
        self._routers: dict[str, RouterConfig] = dict(config.routers)
        self._cooldowns = cooldowns
        self._latency = latency
        self._default_output = config.routing.default_max_output_tokens
        self._rows = tuple(Row(info) for info in catalog.entries())
        by_id: dict[str, list[Row]] = {}
        for row in self._rows:
            by_id.setdefault(row.model.id, []).append(row)
        self._rows_by_id = {k: tuple(v) for k, v in by_id.items()}
        self._lower_ids = {k.lower(): k for k in reversed(list(self._rows_by_id))}
        # an entry's provider-side name (`claude-sonnet-4-20250514` for `claude-sonnet-4-0`,
        # what Claude Code sends) names that entry too, unless it is some entry's own id
        by_upstream: dict[str, list[Row]] = {}
        for row in self._rows:
            upstream = row.model.upstream_id
            if upstream != row.model.id and upstream not in by_id:
                by_upstream.setdefault(upstream, []).append(row)
        self._rows_by_upstream = {k: tuple(v) for k, v in by_upstream.items()}
        self._providers = frozenset(row.model.provider for row in self._rows)
        self._contexts = sorted({row.context for row in self._rows})
        self._pools: dict[tuple[int, int, Reach], _Pool] = {}
        everything = [Option(r, r.model.provider, r.model.upstream_id, False) for r in self._rows]
        # twice the chain: the models cheaper than the choice that lack what the request
        # needs must not be crowded out of the record by cheaper ones without a key
        self._global_band = skyband(everything, 2 * AUTO_CHAIN_LENGTH)
        # dated names already resolved (`_rows_for`); single-row ones take `_pinned_one` too
        self._dated: dict[str, _Target] = {}
        self._check_routers()
        # ids that name exactly one catalog entry and no router: `_pinned_one` may decide them
        self._one_row = {
            model_id: rows[0]
            for names in (self._rows_by_upstream, self._rows_by_id)
            for model_id, rows in names.items()
            if len(rows) == 1 and not self._names_a_router(model_id)
        }

    # -- public -----------------------------------------------------------------

    def decide(
        self,
        model: str,
        *,
        fallbacks: Sequence[str] = (),
        route: str | None = None,
        req: Requirements,
        reach: Reach,
    ) -> RouteDecision:
        if route is not None and route != "fallback":
            raise RoutingError(
                400,
                f"route: unsupported value {route!r}; allowed: 'fallback'",
                code="invalid_route",
                param="route",
            )
        if route is None and not fallbacks:
            decision = self._pinned_one(model, req, reach)
            if decision is not None:
                return decision
        return self._decide(model, fallbacks, route, req, reach)

    def _decide(
        self,
        model: str,
        fallbacks: Sequence[str],
        route: str | None,
        req: Requirements,
        reach: Reach,
    ) -> RouteDecision:
        """Every model form, with every requirement read up front."""
        need = req.prompt_tokens + (req.max_output_tokens or 0)
        ask = _Ask(
            req=req,
            reach=reach,
            prompt_tokens=max(req.prompt_tokens, 1),
            output_tokens=req.max_output_tokens or self._default_output,
            mask=req.capability_mask,
            need=need,
        )
        if fallbacks or route == "fallback":
            router, strategy, plan = (
                "request",
                "fallback",
                self._request_fallback(model, fallbacks, ask),
            )
        else:
            router, strategy, plan = self._resolve(model, ask, ())
        if not plan.chain:
            error = plan.error or RoutingError(
                400, f"no model can serve {model!r}", code="no_capable_model"
            )
            error.candidates = tuple(plan.candidates)
            raise error
        chain = self._cooling_last(plan.chain)
        return RouteDecision(router, strategy, plan.reason, tuple(plan.candidates), tuple(chain))

    def _pinned_one(self, model: str, req: Requirements, reach: Reach) -> RouteDecision | None:
        """The decision for an id served by one catalog entry that can serve this
        request, made without scanning the prompt where the answer does not depend
        on it (the cost estimate waits until it is read); None when the general
        path has to decide. Either way the decision is the same.
        """
        row = self._one_row.get(model)
        snapshot = None
        if row is None:
            dated = self._dated.get(model)
            if dated is None or len(dated[0]) != 1:
                return None
            (row,), snapshot = dated
        route = route_for(row.model, reach, snapshot)
        if route is None or req.mask_without_vision & ~row.mask:
            return None
        if not row.mask & VISION and req.vision:
            return None
        room = row.context - (req.max_output_tokens or 0)
        if req.prompt_tokens_at_most > room and req.prompt_tokens > room:
            return None
        output = req.max_output_tokens or self._default_output

        def cost() -> Decimal:
            return row.cost_usd(max(req.prompt_tokens, 1), output)

        cand = Candidate(row.model, route.via, route.upstream_model, route.byok, cost, None)
        return RouteDecision("pinned", "direct", f"requested {model}", (cand,), (cand,))

    def _names_a_router(self, target: str) -> bool:
        """True when `_resolve` takes `target` for a router rather than a model id."""
        lowered = target.lower()
        if lowered.startswith(ROUTER_PREFIX) and target[len(ROUTER_PREFIX) :] in self._routers:
            return True
        return lowered in AUTO_ALIASES

    # -- model forms --------------------------------------------------------------

    def _resolve(
        self, target: str, ask: _Ask, stack: tuple[str, ...], *, named: bool = True
    ) -> tuple[str, str, _Plan]:
        """`named`: a model id in `target` was named by the request (not by a rule), so
        the catalog's capabilities do not filter it (see the module docstring)."""
        lowered = target.lower()
        if lowered.startswith(ROUTER_PREFIX):
            name = target[len(ROUTER_PREFIX) :]
            if name in self._routers:
                return self._named(name, ask, stack)
        if lowered in AUTO_ALIASES:
            return "auto", "cheapest", self._auto(ask)
        return (
            "pinned",
            "direct",
            self._explicit([self._rows_for(target)], ask, target, order="cost", pinned=named),
        )

    def _rows_for(self, target: str) -> _Target:
        """Rows for a plain id or `provider/id`, either one maybe dated; 404 when unknown.

        An id the catalog knows always wins; only then is a snapshot date
        looked for, so known ids never pay for the rule.
        """
        rows, _ = self._match(target)
        if rows:
            return rows, None
        known = self._dated.get(target)
        if known is not None:
            return known
        base = undated(target)
        if base is not None:
            rows, name = self._match(base)
            if rows:
                return self._remember_dated(target, (rows, name + target[len(base) :]))
        raise self._unknown(target)

    def _remember_dated(self, target: str, resolved: _Target) -> _Target:
        """Keep a dated name's resolution, so the next request with it costs what a
        plain id costs (Claude Code sends a dated id with every request)."""
        if len(self._dated) >= _DATED_CACHE_LIMIT:
            self._dated.clear()
        if not self._names_a_router(target):
            self._dated[target] = resolved
        return resolved

    def _match(self, target: str) -> tuple[tuple[Row, ...], str]:
        """Rows for a plain id or `provider/id`, and the part of `target` naming the model."""
        rows = self._rows_for_plain(target)
        if rows:
            return rows, target
        prefix, _, rest = target.partition("/")
        if rest and prefix in self._providers:
            return tuple(r for r in self._rows_for_plain(rest) if r.model.provider == prefix), rest
        return (), target

    def _rows_for_plain(self, model_id: str) -> tuple[Row, ...]:
        return (
            self._rows_by_id.get(model_id)
            or self._rows_by_id.get(self._lower_ids.get(model_id.lower(), ""))
            or self._rows_by_upstream.get(model_id, ())
        )

    def _unknown(self, target: str) -> RoutingError:
        if target.lower().startswith(ROUTER_PREFIX):
            known = ", ".join(sorted(self._routers)) or "none configured"
            return RoutingError(
                404, f"unknown router {target!r}; routers: auto, {known}", code="model_not_found"
            )
        matches = self._catalog.close_matches(target)
        hint = f"; did you mean: {', '.join(matches)}?" if matches else ""
        return RoutingError(404, f"unknown model {target!r}{hint}", code="model_not_found")

    # -- the auto router ------------------------------------------------------------

    def _auto(self, ask: _Ask) -> _Plan:
        pool = self._pool(ask.mask, ask.need, ask.reach)
        source = pool.band
        cooling = self._cooldowns.any_active()
        if cooling:
            source = self._band_despite_cooling(pool)
        ranked = rank_by_cost(source, ask.prompt_tokens, ask.output_tokens)
        if cooling:
            ranked = self._options_cooling_last(ranked)
        chain = [self._candidate(o, None, ask) for o in ranked[:AUTO_CHAIN_LENGTH]]
        if not chain:
            return _Plan(self._notable(ask, []), [], "", self._auto_error(ask))
        first = chain[0]
        wants = "+".join(n for n, bit in CAPABILITY_BITS.items() if ask.mask & bit)
        reason = (
            f"cheapest reachable model{' with ' + wants if wants else ''}: "
            f"{first.model.id} via {first.via}"
        )
        return _Plan(chain + self._notable(ask, chain), chain, reason)

    def _band_despite_cooling(self, pool: _Pool) -> list[Option]:
        """A band that still holds the K cheapest options that are not cooling.

        With c cooling options among the (K + c) cheapest, the K cheapest
        usable ones are in the (K + c)-skyband; widen until c stops growing.
        """
        extra = self._count_cooling(pool.band)
        band = pool.band
        while extra:
            band = pool.band_for(AUTO_CHAIN_LENGTH + extra)
            more = self._count_cooling(band)
            if more <= extra:
                break
            extra = more
        return band

    def _count_cooling(self, options: list[Option]) -> int:
        return sum(1 for o in options if self._cooling(o.via, o.upstream_model))

    def _pool(self, mask: int, need: int, reach: Reach) -> _Pool:
        bucket = bisect_left(self._contexts, need)
        key = (mask, bucket, reach)
        pool = self._pools.get(key)
        if pool is None:
            if len(self._pools) >= _POOL_CACHE_LIMIT:
                self._pools.clear()
            pool = self._build_pool(mask, bucket, reach)
            self._pools[key] = pool
        return pool

    def _build_pool(self, mask: int, bucket: int, reach: Reach) -> _Pool:
        if bucket >= len(self._contexts):
            return _Pool([])
        threshold = self._contexts[bucket]
        best: dict[tuple[str, str], Option] = {}
        for row in self._rows:
            if row.mask & mask != mask or row.context < threshold:
                continue
            route = route_for(row.model, reach)
            if route is None:
                continue
            key = (route.via, route.upstream_model)
            seen = best.get(key)  # one model id served by several providers via one router
            if seen is None or row.tie < seen.row.tie:
                best[key] = Option(row, route.via, route.upstream_model, route.byok)
        options = list(best.values())
        return _Pool(options, skyband(options, AUTO_CHAIN_LENGTH))

    def _notable_band(self, reach: Reach) -> list[Option]:
        """The options `_notable` looks at, built once per reach: the reachable
        models' band (whatever they can do: the K cheapest reachable ones are in
        it, so every reachable model cheaper than the choice that lacks something
        is, up to K) and the whole catalog's band (the cheapest without a key)."""
        pool = self._pool(0, 0, reach)
        band = pool.notable
        if band is None:
            rows = {id(o.row) for o in pool.band}
            band = pool.notable = pool.band + [
                o for o in self._global_band if id(o.row) not in rows
            ]
        return band

    def _notable(self, ask: _Ask, chain: list[Candidate]) -> list[Candidate]:
        """Models cheaper than the chosen one that could not be used, and why: at most
        AUTO_CHAIN_LENGTH lacking a capability or the context, and as many without a
        key or cooling down."""
        limit = chain[0].estimated_cost_usd if chain else None
        in_chain = {(c.model.provider, c.model.id) for c in chain}
        shown: list[Candidate] = []
        done: set[int] = set()  # a row reached both directly and via a hosted router
        unfit = unreachable = 0  # capability/context exclusions; no key or cooling
        ranked = rank_by_cost(self._notable_band(ask.reach), ask.prompt_tokens, ask.output_tokens)
        for option in ranked:
            row = option.row
            if unfit >= AUTO_CHAIN_LENGTH and unreachable >= AUTO_CHAIN_LENGTH:
                break
            if (row.model.provider, row.model.id) in in_chain or id(row) in done:
                continue
            done.add(id(row))
            cost = row.cost_usd(ask.prompt_tokens, ask.output_tokens)
            if limit is not None and cost >= limit:
                break
            reason = self._exclusion(row, ask)
            if reason is not None and not reason.startswith("no key"):
                if unfit < AUTO_CHAIN_LENGTH:
                    unfit += 1
                    shown.append(self._excluded(row, reason, ask, cost))
                continue
            reason = reason or self._cooling_reason(row, ask.reach)
            if reason is not None and unreachable < AUTO_CHAIN_LENGTH:
                unreachable += 1
                shown.append(self._excluded(row, reason, ask, cost))
        return shown

    def _auto_error(self, ask: _Ask) -> RoutingError:
        capable = [r for r in self._rows if r.mask & ask.mask == ask.mask and r.context >= ask.need]
        if capable:
            cheapest = min(
                capable, key=lambda r: (r.cost_f(ask.prompt_tokens, ask.output_tokens), r.tie)
            )
            provider = cheapest.model.provider
            return RoutingError(424, no_key_message(provider), code="provider_key_missing")
        return RoutingError(
            400,
            f"no model can serve this request: {self._capability_problem(ask)}",
            code="no_capable_model",
        )

    def _capability_problem(self, ask: _Ask) -> str:
        names = [n for n, bit in CAPABILITY_BITS.items() if ask.mask & bit]
        alone = [n for n in names if not any(r.mask & CAPABILITY_BITS[n] for r in self._rows)]
        if alone:
            return f"no model supports {', '.join(alone)}"
        with_all = [r for r in self._rows if r.mask & ask.mask == ask.mask]
        if not with_all:
            return f"no model supports {' + '.join(names)} together"
        largest = max(r.context for r in with_all)
        return f"it needs {ask.need} tokens of context; the largest window is {largest}"

    # -- explicit lists: plain ids, pinned ids, named routers ----------------------

    def _explicit(
        self, targets: Sequence[_Target], ask: _Ask, what: str, *, order: str, pinned: bool = False
    ) -> _Plan:
        """`pinned`: the user named the model, so the catalog's capability and context
        figures (ours, and they can be wrong) do not refuse it; its provider decides,
        and the reason says what the catalog expected. Only a missing key excludes;
        the providers the catalog doubts come after those it does not."""
        excluded: list[Candidate] = []
        eligible: list[Option] = []
        seen: set[tuple[str, str]] = set()
        notes: dict[int, str] = {}  # id(row) → what the catalog says it lacks
        for rows, snapshot in targets:
            for row in rows:
                reason = self._exclusion(row, ask)
                if pinned and reason is not None and not reason.startswith("no key"):
                    notes[id(row)] = reason
                    reason = self._exclusion(row, ask, reach_only=True)
                route = route_for(row.model, ask.reach, snapshot) if reason is None else None
                if route is None:
                    reason = reason or no_key_reason(row.model.provider)
                    excluded.append(self._excluded(row, reason, ask, snapshot=snapshot))
                elif (route.via, route.upstream_model) not in seen:
                    seen.add((route.via, route.upstream_model))
                    eligible.append(Option(row, route.via, route.upstream_model, route.byok))
        if order == "cost":
            eligible = rank_by_cost(eligible, ask.prompt_tokens, ask.output_tokens)
        elif order == "latency":
            eligible = rank_by_latency(
                eligible, self._latency, ask.prompt_tokens, ask.output_tokens
            )
        doubt = ""
        if notes and eligible:
            eligible.sort(key=lambda o: id(o.row) in notes)  # stable: the order within each
            doubt = notes.get(id(eligible[0].row), "")
        chain = [self._candidate(o, None, ask) for o in eligible]
        reason = f"requested {what}" if chain else ""
        if doubt:
            reason += f" (the catalog says: {doubt}; sent anyway)"
        error = None if chain else self._explicit_error(what, excluded)
        return _Plan(chain + excluded, chain, reason, error, doubt)

    def _explicit_error(self, what: str, excluded: list[Candidate]) -> RoutingError:
        reasons = [c.excluded or "" for c in excluded]
        if reasons and all(r.startswith("no key for ") for r in reasons):
            provider = excluded[0].model.provider
            return RoutingError(424, no_key_message(provider), code="provider_key_missing")
        detail = "; ".join(dict.fromkeys(r for r in reasons if not r.startswith("no key for ")))
        return RoutingError(
            400, f"{what} cannot serve this request: {detail}", code="no_capable_model"
        )

    def _named(self, name: str, ask: _Ask, stack: tuple[str, ...]) -> tuple[str, str, _Plan]:
        if name in stack:
            cycle = " → ".join(ROUTER_PREFIX + n for n in (*stack, name))
            raise RoutingError(400, f"router cycle: {cycle}", code="router_cycle")
        router = self._routers[name]
        if router.strategy == "rules":
            return name, "rules", self._rules(name, router, ask, (*stack, name))
        targets = [self._rows_for(item) for item in router.models]
        order = {"cheapest": "cost", "fastest": "latency"}.get(router.strategy, "given")
        plan = self._explicit(targets, ask, f"router {name!r}", order=order)
        if plan.chain:
            first = plan.chain[0]
            plan.reason = f"router {name} ({router.strategy}): {first.model.id} via {first.via}"
        return name, router.strategy, plan

    def _rules(self, name: str, router: RouterConfig, ask: _Ask, stack: tuple[str, ...]) -> _Plan:
        for rule in router.rules:
            if rule_matches(rule, ask.req):
                _, _, plan = self._resolve(rule.use, ask, stack, named=False)
                plan.reason = f"router {name}: rule {rule.when} → {rule.use}; {plan.reason}"
                return plan
        target = router.default or "auto"
        _, _, plan = self._resolve(target, ask, stack, named=False)
        plan.reason = f"router {name}: no rule matched, default {target}; {plan.reason}"
        return plan

    def _request_fallback(self, model: str, fallbacks: Sequence[str], ask: _Ask) -> _Plan:
        items = list(dict.fromkeys([model, *fallbacks]))
        candidates: list[Candidate] = []
        chain: list[Candidate] = []
        errors: list[tuple[str, RoutingError]] = []
        seen: set[tuple[str, str]] = set()
        shown: set[tuple[str, str, str]] = set()
        doubts: list[str] = []
        for position, item in enumerate(items):
            try:
                _, _, plan = self._resolve(item, ask, ())
            except RoutingError as exc:
                if position == 0 or exc.status != 404:
                    raise
                # a typo in the list fails loudly, but names where it is: the list
                raise RoutingError(
                    404,
                    f"in the fallback list `models`: {exc.message}",
                    code=exc.code,
                    param="models",
                ) from None
            for cand in plan.chain:
                if (cand.via, cand.upstream_model) not in seen:
                    seen.add((cand.via, cand.upstream_model))
                    chain.append(cand)
            for cand in plan.candidates:
                key = (cand.model.provider, cand.model.id, cand.via)
                if key not in shown:
                    shown.add(key)
                    candidates.append(cand)
            if plan.error is not None and not plan.chain:
                errors.append((item, plan.error))
            if plan.doubt:
                doubts.append(f"of {item}: {plan.doubt}")
        reason = "fallback list: " + " → ".join(items)
        if doubts:
            reason += f" (the catalog says {'; '.join(doubts)}; sent anyway)"
        return _Plan(candidates, chain, reason, _fallback_error(errors))

    # -- shared pieces -----------------------------------------------------------

    def _exclusion(self, row: Row, ask: _Ask, *, reach_only: bool = False) -> str | None:
        """Why `row` cannot serve this request, or None; cool-downs aside. With
        `reach_only`, only a missing key counts."""
        if reach_only:
            if row.model.provider not in ask.reach.direct and ask.reach.hosted_router is None:
                return no_key_reason(row.model.provider)
            return None
        missing = ask.mask & ~row.mask
        if missing:
            lacks = [n for n, bit in CAPABILITY_BITS.items() if missing & bit and bit != REASONING]
            parts = [f"lacks {', '.join(lacks)}"] if lacks else []
            if missing & REASONING:
                parts.append("not a reasoning model")
            return "; ".join(parts)
        if row.context < ask.need:
            return f"context too small (needs {ask.need}, has {row.context})"
        if row.model.provider not in ask.reach.direct and ask.reach.hosted_router is None:
            return no_key_reason(row.model.provider)
        return None

    def _cooling(self, via: str, upstream_model: str) -> bool:
        return self._cooldowns.cooling(via, upstream_model) > 0.0

    def _cooling_reason(self, row: Row, reach: Reach) -> str | None:
        route = route_for(row.model, reach)
        if route is None:
            return None
        left = self._cooldowns.cooling(route.via, route.upstream_model)
        return f"cooling down ({math.ceil(left)} s left)" if left > 0 else None

    def _options_cooling_last(self, options: list[Option]) -> list[Option]:
        fresh = [o for o in options if not self._cooling(o.via, o.upstream_model)]
        if len(fresh) == len(options):
            return options
        return fresh + [o for o in options if self._cooling(o.via, o.upstream_model)]

    def _cooling_last(self, chain: list[Candidate]) -> list[Candidate]:
        if not self._cooldowns.any_active():
            return chain
        fresh = [c for c in chain if not self._cooling(c.via, c.upstream_model)]
        return fresh + [c for c in chain if self._cooling(c.via, c.upstream_model)]

    def _candidate(self, option: Option, excluded: str | None, ask: _Ask) -> Candidate:
        row = option.row
        return Candidate(
            row.model,
            option.via,
            option.upstream_model,
            option.byok,
            row.cost_usd(ask.prompt_tokens, ask.output_tokens),
            excluded,
        )

    def _excluded(
        self,
        row: Row,
        reason: str,
        ask: _Ask,
        cost: Decimal | None = None,
        snapshot: str | None = None,
    ) -> Candidate:
        route = route_for(row.model, ask.reach, snapshot)
        via, upstream, byok = (
            (route.via, route.upstream_model, route.byok)
            if route is not None
            else (row.model.provider, snapshot or row.model.upstream_id, False)
        )
        if cost is None:
            cost = row.cost_usd(ask.prompt_tokens, ask.output_tokens)
        return Candidate(row.model, via, upstream, byok, cost, reason)

    # -- configuration checks ------------------------------------------------------

    def _check_routers(self) -> None:
        for name, router in self._routers.items():
            where = f"[routers.{name}]"
            if router.strategy == "rules":
                targets = [rule.use for rule in router.rules]
                if router.default is not None:
                    targets.append(router.default)
                for target in targets:
                    self._check_target(where, target)
            else:
                if not router.models:
                    raise ConfigError(f"{where}: strategy {router.strategy!r} needs a models list")
                for item in router.models:
                    self._check_target(where, item, models_only=True)
        for name in self._routers:
            self._check_cycle(name, ())

    def _check_target(self, where: str, target: str, *, models_only: bool = False) -> None:
        lowered = target.lower()
        is_router = lowered in AUTO_ALIASES or lowered.startswith(ROUTER_PREFIX)
        if is_router and models_only:
            raise ConfigError(f"{where}: models lists hold model ids, not routers ({target!r})")
        if lowered.startswith(ROUTER_PREFIX) and target[len(ROUTER_PREFIX) :] in self._routers:
            return
        if lowered in AUTO_ALIASES:
            return
        try:
            self._rows_for(target)
        except RoutingError as exc:
            raise ConfigError(f"{where}: {exc.message}") from None

    def _check_cycle(self, name: str, stack: tuple[str, ...]) -> None:
        if name in stack:
            cycle = " → ".join(ROUTER_PREFIX + n for n in (*stack, name))
            raise ConfigError(f"[routers.{stack[0]}]: router cycle: {cycle}")
        router = self._routers[name]
        targets = [rule.use for rule in router.rules] + ([router.default] if router.default else [])
        for target in targets:
            if target.lower().startswith(ROUTER_PREFIX):
                ref = target[len(ROUTER_PREFIX) :]
                if ref in self._routers:
                    self._check_cycle(ref, (*stack, name))


def _fallback_error(errors: list[tuple[str, RoutingError]]) -> RoutingError | None:
    if not errors:
        return None
    if all(err.status == 424 for _, err in errors):
        return errors[0][1]
    detail = "; ".join(f"{item}: {err.message}" for item, err in errors)
    return RoutingError(
        400,
        f"no model in the fallback list can serve this request: {detail}",
        code="no_capable_model",
    )
