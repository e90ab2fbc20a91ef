"""Router decisions: model forms, the auto router, named routers, fallbacks, errors, cool-downs."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca_desktop.config import Config, ConfigError
from orca_desktop.routing import AUTO_CHAIN_LENGTH, Reach, RoutingError, requirements_of
from orca_desktop.routing.strategies import Row
from orca_desktop.telemetry.pricing import estimated_cost_usd
from tests.routing.factories import ALL_CAPS, make_body, make_router, model

# Each single requirement has exactly one cheapest capable model.
ENTRIES = [
    model("tiny", "groq", inp="0.05", out="0.08", ctx=8_000, caps=()),
    model("toolie", "groq", inp="0.1", out="0.2", ctx=8_000, caps=("tools",)),
    model("seer", "openai", inp="0.2", out="0.4", caps=("vision",)),
    model("schemer", "openai", inp="0.3", out="0.6", caps=("json_schema",)),
    model("thinker", "anthropic", inp="0.4", out="0.8", ctx=200_000, caps=("reasoning",)),
    model("long", "anthropic", inp="0.25", out="0.5", ctx=1_000_000, caps=()),
    model("big", "openai", inp="1", out="2", ctx=1_000_000, caps=ALL_CAPS),
    model("openai/oss", "groq", inp="0.5", out="1", caps=("tools",)),
    model("dual", "openai", inp="1", out="2", caps=()),
    model("dual", "anthropic", inp="0.5", out="1", caps=()),
]

ROUTERS: dict[str, Any] = {
    "cheap": {"strategy": "cheapest", "models": ["big", "seer", "thinker"]},
    "ordered": {"strategy": "fallback", "models": ["big", "seer"]},
    "quick": {"strategy": "fastest", "models": ["big", "seer", "thinker"]},
    "smart": {
        "strategy": "rules",
        "rules": [
            {"when": "has_images", "use": "big"},
            {"when": "has_tools", "use": "orcarouter/ordered"},
            {"when": "long_context", "min_tokens": 1000, "use": "long"},
            {"when": "reasoning", "use": "thinker"},
        ],
        "default": "tiny",
    },
    "always": {"strategy": "rules", "rules": [{"when": "always", "use": "openai/seer"}]},
}


def setup(**kw: Any) -> Any:
    config = Config.model_validate({"routers": ROUTERS})
    return make_router(ENTRIES, config=config, **kw)


def chain_of(decision: Any) -> list[tuple[str, str]]:
    return [(c.model.id, c.via) for c in decision.chain]


@pytest.mark.parametrize(
    ("requested", "label", "first"),
    [
        ("seer", "pinned/direct", ("seer", "openai")),
        ("Seer", "pinned/direct", ("seer", "openai")),
        ("openai/seer", "pinned/direct", ("seer", "openai")),
        ("openai/oss", "pinned/direct", ("openai/oss", "groq")),  # a catalog id wins over a prefix
        ("groq/openai/oss", "pinned/direct", ("openai/oss", "groq")),
        ("dual", "pinned/direct", ("dual", "anthropic")),
        ("openai/dual", "pinned/direct", ("dual", "openai")),
        ("auto", "auto/cheapest", ("tiny", "groq")),
        ("AUTO", "auto/cheapest", ("tiny", "groq")),
        ("router", "auto/cheapest", ("tiny", "groq")),
        ("default", "auto/cheapest", ("tiny", "groq")),
        ("orbitrage", "auto/cheapest", ("tiny", "groq")),
        ("orcarouter/auto", "auto/cheapest", ("tiny", "groq")),
        ("orcarouter/cheap", "cheap/cheapest", ("seer", "openai")),
        ("orcarouter/ordered", "ordered/fallback", ("big", "openai")),
        ("orcarouter/smart", "smart/rules", ("tiny", "groq")),
    ],
)
def test_every_model_form_resolves(requested: str, label: str, first: tuple[str, str]) -> None:
    decision = setup().decide(requested)
    assert decision.route_label == label
    assert chain_of(decision)[0] == first
    assert all(c.excluded is None for c in decision.chain)


def test_plain_id_served_by_two_providers_tries_the_cheaper_first() -> None:
    assert chain_of(setup().decide("dual")) == [("dual", "anthropic"), ("dual", "openai")]
    assert chain_of(setup().decide("openai/dual")) == [("dual", "openai")]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "tiny"),
        ({"tools": True}, "toolie"),
        ({"images": 1}, "seer"),
        ({"json_schema": True}, "schemer"),
        ({"reasoning_effort": "low"}, "thinker"),
        ({"reasoning_effort": "none"}, "tiny"),
        ({"max_tokens": 150_000}, "long"),
        ({"text": "x" * 40_000}, "seer"),  # ~10k tokens: tiny and toolie hold only 8k
        ({"tools": True, "images": 2}, "big"),
    ],
)
def test_auto_picks_cheapest_capable_model(body: dict[str, Any], expected: str) -> None:
    decision = setup().decide("auto", **body)
    assert decision.chain[0].model.id == expected
    assert decision.chain[0].estimated_cost_usd == min(c.estimated_cost_usd for c in decision.chain)


def test_auto_chain_is_the_rest_of_the_capable_set_cheapest_first() -> None:
    decision = setup().decide("auto", tools=True)
    assert [c.model.id for c in decision.chain] == ["toolie", "openai/oss", "big"]
    costs = [c.estimated_cost_usd for c in decision.chain]
    assert costs == sorted(costs)
    excluded = {c.model.id: c.excluded for c in decision.candidates if c.excluded}
    assert excluded == {"tiny": "lacks tools"}  # the only cheaper model than toolie


def test_estimated_cost_is_this_requests_tokens_at_the_models_prices() -> None:
    s = setup()
    body = make_body(text="y" * 4000, max_tokens=300)
    decision = s.router.decide("seer", req=requirements_of(body), reach=s.reach)
    req = requirements_of(body)
    expected = (Decimal("0.2") * req.prompt_tokens + Decimal("0.4") * 300) / Decimal(10**6)
    assert decision.chain[0].estimated_cost_usd == expected
    assert estimated_cost_usd(decision.chain[0].model, req, 512) == expected


def test_expected_output_defaults_to_the_configured_tokens() -> None:
    config = Config.model_validate({"routing": {"default_max_output_tokens": 1000}})
    s = make_router(ENTRIES, config=config)
    req = requirements_of(make_body())
    cost = s.router.decide("seer", req=req, reach=s.reach).chain[0].estimated_cost_usd
    assert cost == (Decimal("0.2") * req.prompt_tokens + Decimal("0.4") * 1000) / 10**6


def test_ties_are_broken_by_id_then_provider_whatever_the_catalog_order() -> None:
    entries = [
        model("b-model", "openai", inp="1", out="2"),
        model("a-model", "zeta", inp="1", out="2"),
        model("a-model", "alpha", inp="1", out="2"),
        model("c-model", "anthropic", inp="1", out="2"),
    ]
    expected = [
        ("a-model", "alpha"),
        ("a-model", "zeta"),
        ("b-model", "openai"),
        ("c-model", "anthropic"),
    ]
    rng = random.Random(7)
    for _ in range(10):
        rng.shuffle(entries)
        s = make_router(entries, direct=("openai", "zeta", "alpha", "anthropic"))
        assert chain_of(s.decide("auto")) == expected


def test_hosted_router_reaches_models_without_a_key() -> None:
    s = setup(direct=("anthropic",), hosted_router="orcarouter")
    decision = s.decide("auto")
    first = decision.chain[0]
    assert (first.model.id, first.via, first.upstream_model, first.byok) == (
        "tiny",
        "orcarouter",
        "tiny",
        False,
    )
    pinned = s.decide("thinker").chain[0]
    assert (pinned.via, pinned.upstream_model, pinned.byok) == ("anthropic", "thinker", True)


def test_upstream_id_is_sent_to_the_provider_directly() -> None:
    s = make_router([model("nice", "openai", upstream_id="nice-2025-01-01")])
    assert s.decide("nice").chain[0].upstream_model == "nice-2025-01-01"
    hosted = s.decide("nice", reach=Reach(frozenset(), "orcarouter")).chain[0]
    assert (hosted.via, hosted.upstream_model) == ("orcarouter", "nice")


# --- named routers -----------------------------------------------------------------------


def test_cheapest_router_picks_the_cheapest_capable_of_its_list() -> None:
    s = setup()
    assert chain_of(s.decide("orcarouter/cheap")) == [
        ("seer", "openai"),
        ("thinker", "anthropic"),
        ("big", "openai"),
    ]
    assert chain_of(s.decide("orcarouter/cheap", tools=True)) == [("big", "openai")]


def test_fallback_router_keeps_its_order() -> None:
    assert chain_of(setup().decide("orcarouter/ordered")) == [("big", "openai"), ("seer", "openai")]


def test_fastest_router_orders_by_measured_time_to_first_token() -> None:
    s = setup()
    s.latency.observe_ttft("anthropic", "thinker", 100.0)
    s.latency.observe_ttft("openai", "seer", 900.0)
    # big has no data yet: the 800 ms default puts it between the two
    assert chain_of(s.decide("orcarouter/quick")) == [
        ("thinker", "anthropic"),
        ("big", "openai"),
        ("seer", "openai"),
    ]


@pytest.mark.parametrize(
    ("body", "first", "rule"),
    [
        ({"images": 1}, "big", "has_images"),
        ({"tools": True}, "big", "has_tools"),  # → orcarouter/ordered, where seer lacks tools
        ({"text": "z" * 8000}, "long", "long_context"),
        ({"reasoning_effort": "high"}, "thinker", "reasoning"),
        ({}, "tiny", "no rule matched"),
    ],
)
def test_rules_router_follows_the_first_matching_rule(
    body: dict[str, Any], first: str, rule: str
) -> None:
    decision = setup().decide("orcarouter/smart", **body)
    assert decision.route_label == "smart/rules"
    assert decision.chain[0].model.id == first
    assert rule in decision.reason


def test_always_rule_and_nested_router_chain() -> None:
    s = setup()
    assert chain_of(s.decide("orcarouter/always")) == [("seer", "openai")]
    nested = s.decide("orcarouter/smart", tools=True)
    assert chain_of(nested) == [("big", "openai")]
    assert {c.model.id: c.excluded for c in nested.candidates} == {
        "big": None,
        "seer": "lacks tools",
    }


def test_rules_without_default_fall_back_to_auto() -> None:
    config = Config.model_validate(
        {"routers": {"r": {"strategy": "rules", "rules": [{"when": "has_tools", "use": "big"}]}}}
    )
    assert make_router(ENTRIES, config=config).decide("orcarouter/r").chain[0].model.id == "tiny"


@pytest.mark.parametrize(
    ("routers", "message"),
    [
        (
            {"a": {"strategy": "rules", "rules": [{"when": "always", "use": "orcarouter/a"}]}},
            "router cycle: orcarouter/a → orcarouter/a",
        ),
        (
            {
                "a": {"strategy": "rules", "rules": [{"when": "has_tools", "use": "orcarouter/b"}]},
                "b": {"strategy": "rules", "rules": [], "default": "orcarouter/a"},
            },
            "router cycle: orcarouter/a → orcarouter/b → orcarouter/a",
        ),
        (
            {"a": {"strategy": "rules", "rules": [{"when": "always", "use": "orcarouter/nope"}]}},
            "unknown router 'orcarouter/nope'",
        ),
        ({"a": {"strategy": "cheapest", "models": ["big", "gpt-9"]}}, "unknown model 'gpt-9'"),
        ({"a": {"strategy": "cheapest", "models": []}}, "needs a models list"),
        ({"a": {"strategy": "fallback", "models": ["auto"]}}, "not routers"),
    ],
)
def test_bad_router_configs_are_rejected(routers: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="^\\[routers\\.a\\]") as info:
        make_router(ENTRIES, config=Config.model_validate({"routers": routers}))
    assert message in str(info.value)


def test_unknown_named_router_is_404() -> None:
    with pytest.raises(RoutingError) as info:
        setup().decide("orcarouter/nope")
    assert (info.value.status, info.value.code) == (404, "model_not_found")
    assert "unknown router 'orcarouter/nope'" in info.value.message


# --- request fallbacks and route --------------------------------------------------------


def test_fallback_chain_is_model_then_list_in_order_without_repeats() -> None:
    decision = setup().decide("seer", fallbacks=["big", "seer", "openai/big", "tiny", "big"])
    assert decision.route_label == "request/fallback"
    assert chain_of(decision) == [("seer", "openai"), ("big", "openai"), ("tiny", "groq")]


def test_route_fallback_without_models_is_just_the_model() -> None:
    decision = setup().decide("seer", route="fallback")
    assert decision.route_label == "request/fallback"
    assert chain_of(decision) == [("seer", "openai")]


def test_fallback_lists_are_explicit_choices_not_filtered_by_the_catalogs_capabilities() -> None:
    decision = setup().decide("seer", fallbacks=["toolie", "big"], tools=True)
    assert chain_of(decision) == [("seer", "openai"), ("toolie", "groq"), ("big", "openai")]
    assert decision.reason.startswith("fallback list: seer → toolie → big")


def test_fallback_list_may_contain_routers() -> None:
    decision = setup().decide("thinker", fallbacks=["orcarouter/ordered", "auto"])
    assert chain_of(decision)[:3] == [
        ("thinker", "anthropic"),
        ("big", "openai"),
        ("seer", "openai"),
    ]
    assert ("tiny", "groq") in chain_of(decision)


@pytest.mark.parametrize("route", ["cheapest", "", "FALLBACK"])
def test_any_other_route_is_400_naming_route(route: str) -> None:
    with pytest.raises(RoutingError) as info:
        setup().decide("seer", fallbacks=["big"], route=route)
    err = info.value
    assert (err.status, err.code, err.param) == (400, "invalid_route", "route")
    assert err.message.startswith("route: ")


# --- errors ---------------------------------------------------------------------------


def test_unknown_model_is_404_with_close_matches() -> None:
    s = make_router([model("gpt-4o"), model("gpt-4.1"), model("gpt-4o-mini"), model("claude-x")])
    with pytest.raises(RoutingError) as info:
        s.decide("gpt-4x")
    err = info.value
    assert (err.status, err.code, err.param) == (404, "model_not_found", "model")
    assert err.message == "unknown model 'gpt-4x'; did you mean: gpt-4o, gpt-4.1?"
    with pytest.raises(RoutingError, match="^unknown model 'zzzz-qqq'$"):
        s.decide("zzzz-qqq")


def test_an_unknown_id_in_the_fallback_list_is_a_404_naming_the_list() -> None:
    with pytest.raises(RoutingError) as info:
        setup().decide("seer", fallbacks=["big", "bgi"])
    err = info.value
    assert (err.status, err.code, err.param) == (404, "model_not_found", "models")
    assert err.message.startswith("in the fallback list `models`: unknown model 'bgi'")
    assert "did you mean: big" in err.message
    with pytest.raises(RoutingError) as info:  # the model itself: its own field
        setup().decide("sere", fallbacks=["big"])
    assert info.value.param == "model"


def test_pinning_a_provider_that_does_not_serve_the_model_is_404() -> None:
    with pytest.raises(RoutingError) as info:
        setup().decide("groq/seer")
    assert info.value.status == 404


def test_missing_key_is_424_naming_provider_and_fix() -> None:
    s = setup(direct=("openai",))
    with pytest.raises(RoutingError) as info:
        s.decide("thinker")
    err = info.value
    assert (err.status, err.code, err.param) == (424, "provider_key_missing", "model")
    assert err.message == (
        "no key for anthropic: run `orca-desktop keys set anthropic` or add it in the Keys tab"
    )
    assert [c.excluded for c in err.candidates] == ["no key for anthropic"]


def test_auto_without_any_key_is_424_naming_the_cheapest_capable_provider() -> None:
    with pytest.raises(RoutingError) as info:
        setup(direct=()).decide("auto", json_schema=True)
    assert info.value.status == 424
    assert info.value.message.startswith("no key for openai: ")  # schemer is cheapest


@pytest.mark.parametrize(
    ("entries", "body", "fragment"),
    [
        ([model("a", caps=("tools",))], {"images": 1}, "no model supports vision"),
        (
            [model("a", caps=("tools",)), model("b", caps=("vision",))],
            {"images": 1, "tools": True},
            "no model supports tools + vision together",
        ),
        ([model("a", ctx=1000)], {"max_tokens": 5000}, "the largest window is 1000"),
    ],
)
def test_auto_with_no_capable_model_is_400_saying_what_is_missing(
    entries: list[Any], body: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(RoutingError) as info:
        make_router(entries).decide("auto", **body)
    assert (info.value.status, info.value.code) == (400, "no_capable_model")
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("requested", "body", "reason"),
    [
        ("seer", {"tools": True}, "lacks tools"),
        ("tiny", {"images": 1, "json_schema": True}, "lacks vision, json_schema"),
        ("seer", {"reasoning_effort": "medium"}, "not a reasoning model"),
        ("tiny", {"max_tokens": 9000}, "context too small (needs "),
    ],
)
def test_a_pinned_model_the_catalog_thinks_incapable_goes_to_its_provider_anyway(
    requested: str, body: dict[str, Any], reason: str
) -> None:
    # the capability table is ours and can be wrong; the user named the model
    decision = setup().decide(requested, **body)
    assert decision.route_label == "pinned/direct"
    assert decision.chain[0].model.id == requested
    assert f"(the catalog says: {reason}" in decision.reason
    assert decision.reason.endswith("; sent anyway)")


def test_the_pinned_note_gives_needed_and_available_tokens() -> None:
    s = setup()
    req = requirements_of(make_body(max_tokens=9000))
    decision = s.router.decide("tiny", req=req, reach=s.reach)
    assert f"context too small (needs {req.prompt_tokens + 9000}, has 8000)" in decision.reason


def test_a_pinned_model_without_a_key_is_still_a_424() -> None:
    with pytest.raises(RoutingError) as info:
        setup().decide("seer", reach=Reach(frozenset({"groq"})), tools=True)
    assert info.value.status == 424


# --- cool-downs in decisions ------------------------------------------------------------


def test_cooling_model_is_skipped_by_auto_while_others_remain() -> None:
    s = setup()
    s.cooldowns.failed("groq", "tiny", status=503, retry_after_s=None)
    decision = s.decide("auto")
    assert decision.chain[0].model.id == "toolie"
    assert "tiny" not in [c.model.id for c in decision.chain]
    assert {c.model.id: c.excluded for c in decision.candidates}[
        "tiny"
    ] == "cooling down (2 s left)"
    s.clock.advance(2.0)
    assert s.decide("auto").chain[0].model.id == "tiny"


def test_cooling_models_go_last_when_the_chain_is_short() -> None:
    s = make_router([model("a", inp="1"), model("b", inp="2"), model("c", inp="3")])
    s.cooldowns.failed("openai", "a", status=429, retry_after_s=12)
    assert [c.model.id for c in s.decide("auto").chain] == ["b", "c", "a"]
    s.cooldowns.failed("openai", "b", status=500, retry_after_s=None)
    s.cooldowns.failed("openai", "c", status=500, retry_after_s=None)
    assert [c.model.id for c in s.decide("auto").chain] == [
        "a",
        "b",
        "c",
    ]  # all cooling: cost order


def test_cooled_pair_goes_last_in_a_fallback_list() -> None:
    s = setup()
    s.cooldowns.failed("openai", "seer", status=502, retry_after_s=None)
    decision = s.decide("seer", fallbacks=["big", "tiny"])
    assert chain_of(decision) == [("big", "openai"), ("tiny", "groq"), ("seer", "openai")]


def test_pinned_model_is_tried_even_while_cooling() -> None:
    s = setup()
    s.cooldowns.failed("openai", "seer", status=429, retry_after_s=60)
    for requested in ("openai/seer", "seer"):
        decision = s.decide(requested)
        assert chain_of(decision) == [("seer", "openai")]
        assert decision.chain[0].excluded is None


def test_success_makes_a_cooled_model_first_again() -> None:
    s = setup()
    s.cooldowns.failed("groq", "tiny", status=500, retry_after_s=None)
    assert s.decide("auto").chain[0].model.id != "tiny"
    s.cooldowns.succeeded("groq", "tiny")
    assert s.decide("auto").chain[0].model.id == "tiny"


def test_auto_with_cooling_models_still_picks_the_cheapest_usable_ones() -> None:
    # 12 models on a line: each is dominated by all cheaper ones, so only the
    # first AUTO_CHAIN_LENGTH are in the precomputed band.
    entries = [model(f"m{i:02d}", inp=str(i + 1), out=str(i + 1)) for i in range(12)]
    s = make_router(entries)
    assert [c.model.id for c in s.decide("auto").chain] == [f"m{i:02d}" for i in range(6)]
    for i in range(8):
        s.cooldowns.failed("openai", f"m{i:02d}", status=500, retry_after_s=None)
    assert [c.model.id for c in s.decide("auto").chain] == [
        "m08",
        "m09",
        "m10",
        "m11",
        "m00",
        "m01",
    ]
    for i in range(12):
        s.cooldowns.failed("openai", f"m{i:02d}", status=500, retry_after_s=None)
    assert [c.model.id for c in s.decide("auto").chain] == [f"m{i:02d}" for i in range(6)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 50), st.integers(1, 50), st.booleans()), min_size=1, max_size=25
    ),
    st.integers(1, 100_000),
    st.integers(1, 10_000),
)
def test_auto_chain_equals_brute_force_ranking_with_any_cooling(
    specs: list[tuple[int, int, bool]], prompt_bytes: int, max_tokens: int
) -> None:
    entries = [
        model(f"m{i:02d}", inp=str(a), out=str(b), ctx=10**7) for i, (a, b, _) in enumerate(specs)
    ]
    s = make_router(entries)
    for i, (_, _, cooling) in enumerate(specs):
        if cooling:
            s.cooldowns.failed("openai", f"m{i:02d}", status=503, retry_after_s=None)
    req = requirements_of(make_body(text="x" * prompt_bytes, max_tokens=max_tokens))
    rows = sorted(
        (Row(e) for e in entries),
        key=lambda r: (r.cost_f(req.prompt_tokens, max_tokens), r.tie),
    )
    fresh = [r.model.id for r in rows if not specs[int(r.model.id[1:])][2]]
    cool = [r.model.id for r in rows if specs[int(r.model.id[1:])][2]]
    expected = (fresh + cool)[:AUTO_CHAIN_LENGTH]
    decision = s.router.decide("auto", req=req, reach=s.reach)
    assert [c.model.id for c in decision.chain] == expected


REACHES = [
    Reach(frozenset({"openai", "anthropic", "groq"})),
    Reach(frozenset({"openai", "anthropic", "groq"}), keyless=frozenset({"groq"})),
    Reach(frozenset({"openai"})),
    Reach(frozenset({"groq"}), "orcarouter"),
    Reach(frozenset()),
]
FORMS = [
    *("tiny", "seer", "big", "long", "openai/oss", "dual", "openai/seer", "auto", "nope"),
    *("seer-2025-01-31", "big-20250131", "openai/seer-20250131", "dual-2025-01-31"),
    *("openai/oss-20250131", "nope-20250131"),
]


def _outcome(call: Any) -> Any:
    try:
        d = call()
    except RoutingError as exc:
        return ("error", exc.status, exc.code, exc.message)
    return (d.router, d.strategy, d.reason, d.candidates, d.chain)


@settings(max_examples=300)
@given(
    form=st.sampled_from(FORMS),
    reach=st.sampled_from(REACHES),
    text_kb=st.sampled_from([0, 1, 20, 40]),
    images=st.integers(0, 2),
    tools=st.booleans(),
    json_schema=st.booleans(),
    reasoning=st.booleans(),
    max_tokens=st.sampled_from([None, 64, 7_000, 130_000]),
    cooling=st.booleans(),
)
def test_a_pinned_model_gets_the_same_decision_as_through_the_general_path(
    form: str,
    reach: Reach,
    text_kb: int,
    images: int,
    tools: bool,
    json_schema: bool,
    reasoning: bool,
    max_tokens: int | None,
    cooling: bool,
) -> None:
    s = setup()
    if cooling:
        s.cooldowns.failed("openai", "seer", status=429, retry_after_s=30)
    body = make_body(
        text="word, " * (text_kb * 170),
        images=images,
        tools=tools,
        json_schema=json_schema,
        reasoning_effort="high" if reasoning else None,
        max_tokens=max_tokens,
    )
    raw = orjson.dumps(body)
    # the general path first: a dated id takes the quick one once it has been resolved
    general = _outcome(lambda: s.router._decide(form, (), None, requirements_of(body), reach))
    quick = _outcome(lambda: s.router.decide(form, req=requirements_of(body, raw=raw), reach=reach))
    assert quick == general


class CountedList(list[Any]):
    """A messages list that counts how often it is walked."""

    walks = 0

    def __iter__(self) -> Any:
        CountedList.walks += 1
        return super().__iter__()


def test_a_pinned_model_is_decided_without_scanning_the_prompt() -> None:
    s = setup()
    CountedList.walks = 0
    body = {"model": "seer", "messages": CountedList([{"role": "user", "content": "hi " * 50}])}
    req = requirements_of(body, raw=orjson.dumps(body))
    decision = s.router.decide("seer", req=req, reach=s.reach)
    assert chain_of(decision) == [("seer", "openai")] and decision.reason == "requested seer"
    assert CountedList.walks == 0
    expected = s.router._decide("seer", (), None, requirements_of(body), s.reach)
    assert decision.chain[0].estimated_cost_usd == expected.chain[0].estimated_cost_usd > 0
    assert CountedList.walks == 2  # once for the estimate read above, once for `expected`


def test_auto_with_tools_names_cheaper_models_lacking_tools_beside_many_keyless() -> None:
    # eight cheap models of a provider with no key, then two reachable ones without tools,
    # then the reachable tool model auto picks: the record must still say why the two
    # cheaper reachable ones were passed over, not only that keys are missing
    keyless = [model(f"cheap{i}", "mistral", inp=f"0.0{i + 1}", out="0.01") for i in range(8)]
    plain = [model(f"plain{i}", "openai", inp=f"0.{i + 2}", out="0.1", caps=()) for i in range(2)]
    chosen = model("worker", "openai", inp="0.9", out="0.9", caps=("tools",))
    s = make_router([*keyless, *plain, chosen], direct=("openai",))
    decision = s.decide("auto", tools=True)
    assert decision.chain[0].model.id == "worker"
    excluded = {c.model.id: c.excluded for c in decision.candidates if c.excluded}
    assert excluded["plain0"] == "lacks tools" and excluded["plain1"] == "lacks tools"
    assert sum(1 for why in excluded.values() if why.startswith("no key")) >= 3


def test_auto_names_cheaper_reachable_models_lacking_tools_behind_many_keyless() -> None:
    # more keyless cheap models than any band of the whole catalog holds: the reachable
    # ones passed over for lacking tools must still be named, at most AUTO_CHAIN_LENGTH
    keyless = [
        model(f"cheap{i:02}", "mistral", inp=f"0.00{i + 1:02}", out="0.001") for i in range(40)
    ]
    plain = [model(f"plain{i}", "openai", inp=f"0.{i + 2}", out="0.1", caps=()) for i in range(8)]
    chosen = model("worker", "openai", inp="0.95", out="0.95", caps=("tools",))
    s = make_router([*keyless, *plain, chosen], direct=("openai",))
    decision = s.decide("auto", tools=True)
    assert decision.chain[0].model.id == "worker"
    excluded = {c.model.id: c.excluded for c in decision.candidates if c.excluded}
    unfit = sorted(k for k, why in excluded.items() if why == "lacks tools")
    assert unfit == [f"plain{i}" for i in range(AUTO_CHAIN_LENGTH)]  # the cheapest ones
    assert 1 <= sum(1 for why in excluded.values() if why.startswith("no key")) <= AUTO_CHAIN_LENGTH


def test_auto_names_a_cheaper_reachable_model_whose_context_is_too_small() -> None:
    keyless = [
        model(f"cheap{i:02}", "mistral", inp=f"0.00{i + 1:02}", out="0.001") for i in range(40)
    ]
    small = model("small", "openai", inp="0.1", out="0.1", ctx=8_000)
    chosen = model("roomy", "openai", inp="0.9", out="0.9", ctx=200_000)
    s = make_router([*keyless, small, chosen], direct=("openai",))
    decision = s.decide("auto", max_tokens=9000)
    assert decision.chain[0].model.id == "roomy"
    excluded = {c.model.id: c.excluded for c in decision.candidates if c.excluded}
    assert (excluded["small"] or "").startswith("context too small (needs ")
    assert excluded["small"].endswith(", has 8000)")


def test_a_fallback_list_says_when_the_catalog_thinks_a_named_model_incapable() -> None:
    decision = setup().decide("seer", fallbacks=["toolie"], tools=True)
    assert chain_of(decision)[0] == ("seer", "openai")
    assert decision.reason.startswith("fallback list: seer → toolie")
    assert "(the catalog says of seer: lacks tools; sent anyway)" in decision.reason


def test_a_rule_naming_a_model_still_filters_by_capability() -> None:
    # rules are a router: Orca chose the model, so the catalog's table applies
    s = setup()
    with pytest.raises(RoutingError) as info:
        s.decide("orcarouter/always", tools=True)  # the rule says openai/seer, without tools
    assert (info.value.status, info.value.code) == (400, "no_capable_model")
    with pytest.raises(RoutingError) as info:
        s.decide("orcarouter/smart", max_tokens=9000)  # the default, tiny: 8000 tokens
    assert info.value.code == "no_capable_model"
    # the same models named by the request are sent
    assert chain_of(s.decide("openai/seer", tools=True)) == [("seer", "openai")]
    assert chain_of(s.decide("tiny", max_tokens=9000)) == [("tiny", "groq")]


def test_a_pinned_id_prefers_the_provider_the_catalog_thinks_capable() -> None:
    entries = [
        model("twin", "groq", inp="0.1", out="0.1", caps=()),
        model("twin", "openai", inp="0.9", out="0.9", caps=("tools",)),
    ]
    s = make_router(entries, direct=("groq", "openai"))
    decision = s.decide("twin", tools=True)
    assert chain_of(decision) == [("twin", "openai"), ("twin", "groq")]  # not filtered: ordered
    assert decision.reason == "requested twin"
    assert chain_of(s.decide("twin")) == [("twin", "groq"), ("twin", "openai")]
