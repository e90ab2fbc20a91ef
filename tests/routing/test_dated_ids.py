"""Dated snapshot ids (`gpt-4o-2024-08-06`, `claude-sonnet-4-5-20250929`) in routing decisions.

A dated id the catalog does not know is its base entry (routing, capabilities,
prices) asked of that entry's own provider by the dated id; a hosted router
gets the catalog id.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from orca_desktop.config import Config, ConfigError
from orca_desktop.routing import RoutingError, requirements_of
from orca_desktop.routing.catalog import undated
from tests.routing.factories import make_body, make_router, model

ENTRIES = [
    model("seer", "openai", inp="0.2", out="0.4", caps=("vision",)),
    model("claude-x-1", "anthropic", inp="3", out="15", caps=("tools",)),
    model("aliased", "openai", upstream_id="aliased-v2"),
    model("openai/oss", "groq", inp="0.5", out="1"),
    model("dual", "openai", inp="1", out="2"),
    model("dual", "anthropic", inp="0.5", out="1"),
    model("pinned-2025-01-01", "openai", upstream_id="pinned-upstream"),
    model("pinned", "openai"),
    model("local", "ollama", inp="0", out="0"),
]


def first(decision: Any) -> tuple[str, str, str, bool]:
    cand = decision.chain[0]
    return cand.model.id, cand.via, cand.upstream_model, cand.byok


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("openai/gpt-4o-2024-08-06", "openai/gpt-4o"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("x-20001231", "x"),
    ],
)
def test_a_snapshot_date_is_split_off(name: str, base: str) -> None:
    assert undated(name) == base


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4o",
        "claude-3-5-haiku-latest",
        "gpt-4-0613",  # OpenAI's old -MMDD snapshots are not a full date
        "gpt-4o-2024-13-06",  # month 13
        "gpt-4o-2024-08-32",  # day 32
        "claude-x-20251301",
        "claude-x-20250900",
        "claude-x-120250929",  # nine digits
        "claude-x_20250929",  # not a hyphen
        "gpt-4o-2024-0806",
        "gpt-4o-202408-06",
        "gpt-4o-２０２４-08-06",  # full-width digits
        "-20250929",  # nothing before the date
        "-2024-08-06",
        "",
    ],
)
def test_anything_else_is_not_a_snapshot_date(name: str) -> None:
    assert undated(name) is None


def test_a_dated_id_is_its_entry_asked_for_by_the_dated_id() -> None:
    s = make_router(ENTRIES)
    for name in ("seer-2025-01-31", "seer-20250131"):
        decision = s.decide(name)
        assert first(decision) == ("seer", "openai", name, True)
        assert (decision.router, decision.strategy) == ("pinned", "direct")
        assert decision.reason == f"requested {name}"
        cand = decision.chain[0]
        assert cand.model is s.catalog.lookup("seer")[0]  # prices and capabilities: the entry's
        assert cand.estimated_cost_usd == s.decide("seer").chain[0].estimated_cost_usd


def test_a_dated_id_has_its_entrys_capabilities() -> None:
    s = make_router(ENTRIES)
    assert first(s.decide("claude-x-1-20250929", tools=True))[0] == "claude-x-1"
    # pinned: sent anyway, and the reason says what the entry's capabilities expected
    assert "lacks vision" in s.decide("claude-x-1-20250929", images=1).reason


def test_the_provider_is_asked_for_the_dated_id_even_when_the_entry_has_an_upstream_id() -> None:
    s = make_router(ENTRIES)
    assert first(s.decide("aliased-2025-02-03")) == (
        "aliased",
        "openai",
        "aliased-2025-02-03",
        True,
    )


def test_an_exact_catalog_id_wins_over_the_date_rule() -> None:
    s = make_router(ENTRIES)
    assert first(s.decide("pinned-2025-01-01")) == (
        "pinned-2025-01-01",
        "openai",
        "pinned-upstream",
        True,
    )
    assert first(s.decide("pinned-2025-01-02"))[:3] == ("pinned", "openai", "pinned-2025-01-02")


def test_the_provider_form_keeps_the_pin_and_sends_the_dated_model_part() -> None:
    s = make_router(ENTRIES)
    assert first(s.decide("anthropic/dual-2025-01-31")) == (
        "dual",
        "anthropic",
        "dual-2025-01-31",
        True,
    )
    assert first(s.decide("openai/dual-20250131")) == ("dual", "openai", "dual-20250131", True)
    with pytest.raises(RoutingError) as info:
        s.decide("groq/seer-2025-01-31")  # groq does not serve seer
    assert (info.value.status, info.value.code) == (404, "model_not_found")


def test_a_catalog_id_with_a_slash_may_be_dated() -> None:
    s = make_router(ENTRIES)
    assert first(s.decide("openai/oss-20250805")) == (
        "openai/oss",
        "groq",
        "openai/oss-20250805",
        True,
    )


def test_every_provider_of_a_dated_id_is_asked_for_the_dated_id() -> None:
    decision = make_router(ENTRIES).decide("dual-2025-01-31")
    assert [(c.via, c.upstream_model) for c in decision.chain] == [
        ("anthropic", "dual-2025-01-31"),
        ("openai", "dual-2025-01-31"),
    ]


def test_the_dated_id_is_sent_as_the_client_spelled_it() -> None:
    assert first(make_router(ENTRIES).decide("SEER-2025-01-31"))[:3] == (
        "seer",
        "openai",
        "SEER-2025-01-31",
    )


def test_a_hosted_router_is_asked_for_the_catalog_id() -> None:
    s = make_router(ENTRIES, direct=(), hosted_router="orcarouter")
    assert first(s.decide("seer-2025-01-31")) == ("seer", "orcarouter", "seer", False)
    assert first(s.decide("openai/seer-2025-01-31")) == ("seer", "orcarouter", "seer", False)
    both = s.decide("dual-2025-01-31")  # one catalog id through one router: asked once
    assert [(c.via, c.upstream_model) for c in both.chain] == [("orcarouter", "dual")]


def test_a_dated_id_without_a_key_is_424_and_shows_the_dated_id() -> None:
    s = make_router(ENTRIES, direct=())
    with pytest.raises(RoutingError) as info:
        s.decide("seer-2025-01-31")
    assert (info.value.status, info.value.code) == (424, "provider_key_missing")
    shown = info.value.candidates[0]
    assert (shown.model.id, shown.upstream_model, shown.excluded) == (
        "seer",
        "seer-2025-01-31",
        "no key for openai",
    )


@pytest.mark.parametrize("name", ["nope-2025-01-31", "seer-2025-13-01", "auto-20250101"])
def test_a_dated_id_of_no_known_entry_is_404(name: str) -> None:
    with pytest.raises(RoutingError) as info:
        make_router(ENTRIES).decide(name)
    assert (info.value.status, info.value.code) == (404, "model_not_found")
    assert info.value.message.startswith(f"unknown model {name!r}")


def test_close_matches_still_name_known_ids() -> None:
    s = make_router([model("claude-sonnet-4-5", "anthropic"), model("gpt-4o")])
    with pytest.raises(RoutingError) as info:
        s.decide("claude-sonnet-4-5-2025092")  # seven digits: not a date
    assert info.value.message == (
        "unknown model 'claude-sonnet-4-5-2025092'; did you mean: claude-sonnet-4-5?"
    )


def test_dated_ids_in_fallback_lists_and_named_routers() -> None:
    config = Config.model_validate(
        {"routers": {"pair": {"strategy": "fallback", "models": ["seer-20250131", "dual"]}}}
    )
    s = make_router(ENTRIES, config=config)
    fallback = s.decide("claude-x-1-20250929", fallbacks=["seer-2025-01-31"])
    assert [(c.model.id, c.upstream_model) for c in fallback.chain] == [
        ("claude-x-1", "claude-x-1-20250929"),
        ("seer", "seer-2025-01-31"),
    ]
    named = s.decide("orcarouter/pair")
    assert [(c.model.id, c.via, c.upstream_model) for c in named.chain] == [
        ("seer", "openai", "seer-20250131"),
        ("dual", "openai", "dual"),
        ("dual", "anthropic", "dual"),
    ]


def test_a_router_naming_an_unknown_dated_model_is_rejected() -> None:
    config = Config.model_validate(
        {"routers": {"a": {"strategy": "cheapest", "models": ["nope-20250131"]}}}
    )
    with pytest.raises(ConfigError, match="unknown model 'nope-20250131'"):
        make_router(ENTRIES, config=config)


def test_a_repeated_dated_id_is_decided_without_scanning_the_prompt() -> None:
    """After its first request a dated id is as cheap to decide as a plain one."""
    s = make_router(ENTRIES)
    body = make_body(text="hi " * 50)
    s.router.decide("seer-2025-01-31", req=requirements_of(body), reach=s.reach)

    walked = 0

    class Counted(list[Any]):
        def __iter__(self) -> Any:
            nonlocal walked
            walked += 1
            return super().__iter__()

    body["messages"] = Counted(body["messages"])
    req = requirements_of(body, raw=orjson.dumps(body))
    decision = s.router.decide("seer-2025-01-31", req=req, reach=s.reach)
    assert first(decision) == ("seer", "openai", "seer-2025-01-31", True)
    assert walked == 0


def test_many_distinct_dated_ids_stay_correct() -> None:
    """The memo of dated names is bounded; what it forgets is resolved again."""
    s = make_router(ENTRIES)
    days = [(m, d) for m in range(1, 13) for d in range(1, 29)]
    names = [f"seer-{y}-{m:02d}-{d:02d}" for y in (2024, 2025, 2026) for m, d in days]
    names += [f"claude-x-1-2025{m:02d}{d:02d}" for m, d in days]
    assert len(names) > 1024  # more than the memo keeps
    for name in names + names[:10]:
        assert first(s.decide(name))[2] == name
