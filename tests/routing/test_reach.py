"""Reach and BYOK: `X-Orca-BYOK` is true only when a key of the user's serves the request.

A keyless provider (a configured local one, demo mode's simulated ones) with
no key stored or in the environment is reachable, but not BYOK.
"""

from __future__ import annotations

from typing import Any

from orca_desktop.routing import Reach, route_for
from tests.routing.factories import make_router, model

LOCAL = model("local", "ollama", inp="0", out="0")
KEYED = model("seer", "openai", inp="0.2", out="0.4")


def first(decision: Any) -> tuple[str, str, str, bool]:
    cand = decision.chain[0]
    return cand.model.id, cand.via, cand.upstream_model, cand.byok


def test_a_provider_reached_without_a_key_is_not_byok() -> None:
    keyless = Reach(frozenset({"ollama", "openai"}), keyless=frozenset({"ollama"}))
    route = route_for(LOCAL, keyless)
    assert route is not None and (route.via, route.byok) == ("ollama", False)
    keyed = route_for(KEYED, keyless)
    assert keyed is not None and keyed.byok is True
    with_key = route_for(LOCAL, Reach(frozenset({"ollama"})))
    assert with_key is not None and with_key.byok is True


def test_a_hosted_router_is_never_byok() -> None:
    route = route_for(KEYED, Reach(frozenset({"ollama"}), "orcarouter", frozenset({"ollama"})))
    assert route is not None and (route.via, route.byok) == ("orcarouter", False)


def test_keyless_candidates_are_not_byok_in_every_model_form() -> None:
    s = make_router([LOCAL, KEYED], direct=())
    reach = Reach(frozenset({"ollama"}), keyless=frozenset({"ollama"}))
    for form, upstream in [
        ("local", "local"),
        ("ollama/local", "local"),
        ("local-2025-01-31", "local-2025-01-31"),
        ("auto", "local"),
    ]:
        assert first(s.decide(form, reach=reach)) == ("local", "ollama", upstream, False)


def test_keyless_and_keyed_reach_are_separate_auto_pools() -> None:
    s = make_router([LOCAL, KEYED], direct=())
    keyless = Reach(frozenset({"ollama"}), keyless=frozenset({"ollama"}))
    keyed = Reach(frozenset({"ollama"}))  # the same providers, with a key
    assert first(s.decide("auto", reach=keyless))[3] is False
    assert first(s.decide("auto", reach=keyed))[3] is True
    assert first(s.decide("auto", reach=keyless))[3] is False
