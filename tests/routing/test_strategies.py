"""Cost ordering and the skyband pruning that keeps the auto router fast."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orca_desktop.routing.strategies import Option, Row, rank_by_cost, skyband
from tests.routing.factories import model

prices = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


def options_from(pairs: list[tuple[object, object]]) -> list[Option]:
    rows = [Row(model(f"m{i:03d}", inp=str(a), out=str(b))) for i, (a, b) in enumerate(pairs)]
    return [Option(row, "openai", row.model.id, True) for row in rows]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(prices, prices), min_size=0, max_size=60),
    st.integers(min_value=1, max_value=2_000_000),
    st.integers(min_value=1, max_value=200_000),
    st.integers(min_value=1, max_value=8),
)
def test_skyband_ranks_the_same_top_k_as_the_whole_pool(
    pairs: list[tuple[object, object]], prompt: int, output: int, k: int
) -> None:
    options = options_from(pairs)
    full = [o.row.model.id for o in rank_by_cost(options, prompt, output)[:k]]
    band = [o.row.model.id for o in rank_by_cost(skyband(options, k), prompt, output)[:k]]
    assert band == full


def test_skyband_drops_options_dominated_k_times() -> None:
    options = options_from([(1, 1), (2, 2), (3, 3), (0.5, 10)])
    assert [o.row.model.id for o in skyband(options, 1)] == ["m003", "m000"]
    assert [o.row.model.id for o in skyband(options, 2)] == ["m003", "m000", "m001"]


def test_rank_by_cost_weighs_prompt_and_output_tokens() -> None:
    options = options_from([(1, 10), (5, 2)])  # m000 cheap input, m001 cheap output
    assert [o.row.model.id for o in rank_by_cost(options, 10_000, 10)] == ["m000", "m001"]
    assert [o.row.model.id for o in rank_by_cost(options, 10, 10_000)] == ["m001", "m000"]
