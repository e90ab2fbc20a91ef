"""The store's record encoding: any record comes back equal, and as the same API JSON."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca_desktop.telemetry import _codec
from orca_desktop.telemetry.record import Attempt, CandidateView, RequestRecord

text = st.text(max_size=20)
maybe_text = st.none() | text
money = (
    st.none()
    | st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), allow_nan=False, places=12)
    # more places, exponents, 30 digits: the API JSON rounds these through Decimal
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.decimals(min_value=Decimal("-1"), max_value=Decimal("1"), places=30)
)
ms = st.none() | st.floats(min_value=0, max_value=1e7, allow_nan=False) | st.integers(0, 10**7)
tokens = st.none() | st.integers(min_value=0, max_value=10**9)

records = st.builds(
    RequestRecord,
    id=text,
    started_at=text,
    endpoint=text,
    client=maybe_text,
    requested_model=maybe_text,
    router=maybe_text,
    strategy=maybe_text,
    reason=maybe_text,
    provider=maybe_text,
    model=maybe_text,
    byok=st.none() | st.booleans(),
    status=st.integers(min_value=0, max_value=599),
    error=maybe_text,
    stream=st.booleans(),
    candidates=st.lists(st.builds(CandidateView, text, text, money, maybe_text), max_size=5),
    attempts=st.lists(
        st.builds(
            Attempt,
            text,
            text,
            st.integers(min_value=0, max_value=599),
            maybe_text,
            st.floats(min_value=0, max_value=1e7),
        ),
        max_size=3,
    ),
    prompt_tokens=tokens,
    completion_tokens=tokens,
    cached_tokens=tokens,
    reasoning_tokens=tokens,
    cost_usd=money,
    reference_model=maybe_text,
    reference_cost_usd=money,
    savings_usd=money,
    overhead_ms=ms,
    upstream_ms=ms,
    ttft_ms=ms,
    duration_ms=ms,
    dropped=st.lists(text, max_size=4),
    cache_write_tokens=tokens,
)

# The stored fields before `dropped` and `cache_write_tokens` were appended.
_BEFORE_DROPPED = _codec.STORED_FIELDS.index("dropped")


@settings(max_examples=300, deadline=None)
@given(records)
def test_any_record_decodes_to_itself_and_to_its_api_json(record: RequestRecord) -> None:
    stored = _codec.encode(record)
    assert _codec.decode(stored) == record
    assert _codec.api_json(stored) == orjson.dumps(record.to_json())


@pytest.mark.parametrize(
    "cost",
    ["0", "-0", "0.1", "-0.000000000001", "0.0000000000004", "1E-30", "0E-12", "-1.5E+3",
     "123456789012345678901234567890.5", "0.1234567890123", "12345678901234567890"],
)  # fmt: skip
def test_money_in_the_api_json_is_what_to_json_gives(cost: str) -> None:
    record = RequestRecord(
        id="r",
        started_at="t",
        endpoint="/v1/chat/completions",
        cost_usd=Decimal(cost),
        candidates=[CandidateView("m", "p", Decimal(cost))],
    )
    assert _codec.api_json(_codec.encode(record)) == orjson.dumps(record.to_json())


def test_the_api_json_keys_are_the_stored_fields_in_order() -> None:
    # `api_json` builds the object in STORED_FIELDS order; `to_json` must agree.
    record = RequestRecord(id="r", started_at="t", endpoint="/v1/models")
    assert tuple(record.to_json()) == _codec.STORED_FIELDS


def test_a_schema_1_row_is_its_api_json_as_stored() -> None:
    record = RequestRecord(id="r", started_at="2025-06-01T00:00:00Z", endpoint="/v1/models")
    text = orjson.dumps(record.to_json()).decode()
    assert _codec.api_json(text) == text.encode()
    assert _codec.decode(text) == record


def test_a_row_written_before_a_field_was_added_reads_with_its_default() -> None:
    record = RequestRecord(id="r", started_at="t", endpoint="/v1/chat/completions", status=200)
    shorter = orjson.dumps(orjson.loads(_codec.encode(record))[:-14])  # no candidates yet
    assert _codec.decode(shorter) == record
    assert _codec.api_json(shorter) == orjson.dumps(record.to_json())


def test_a_row_written_before_dropped_and_cache_writes_reads_them_as_unknown() -> None:
    record = RequestRecord(
        id="r",
        started_at="t",
        endpoint="/v1/chat/completions",
        status=200,
        prompt_tokens=10,
        cached_tokens=4,
        cost_usd=Decimal("0.25"),
        duration_ms=8.0,
    )
    new = replace(record, dropped=["top_k", "thinking"], cache_write_tokens=6)
    old_row = orjson.loads(_codec.encode(new))[:_BEFORE_DROPPED]
    assert len(old_row) == 28 and old_row[-1] == 8.0
    old = orjson.dumps(old_row)
    decoded = _codec.decode(old)
    assert decoded == record
    assert (decoded.dropped, decoded.cache_write_tokens) == ([], None)
    api = orjson.loads(_codec.api_json(old))
    assert (api["dropped"], api["cache_write_tokens"]) == ([], None)
    assert _codec.api_json(old) == orjson.dumps(record.to_json())
    # and a row written now keeps both
    assert _codec.decode(_codec.encode(new)) == new
    api = orjson.loads(_codec.api_json(_codec.encode(new)))
    assert (api["dropped"], api["cache_write_tokens"]) == (["top_k", "thinking"], 6)


def test_schema_1_text_written_before_dropped_and_cache_writes_gains_both_keys() -> None:
    record = RequestRecord(
        id="r", started_at="2025-06-01T00:00:00Z", endpoint="/v1/models", cost_usd=Decimal("0.1")
    )
    old_json = record.to_json()
    del old_json["dropped"], old_json["cache_write_tokens"]
    text = orjson.dumps(old_json).decode()
    assert _codec.decode(text) == record
    assert RequestRecord.from_json(old_json) == record
    assert _codec.api_json(text) == orjson.dumps(record.to_json())
    assert _codec.api_json(text.encode()) == orjson.dumps(record.to_json())


def test_a_row_from_a_newer_version_reads_without_its_extra_fields() -> None:
    record = RequestRecord(id="r", started_at="t", endpoint="/v1/chat/completions", ttft_ms=2.0)
    longer = orjson.dumps([*orjson.loads(_codec.encode(record)), "new field", 7])
    assert _codec.decode(longer) == record
    assert _codec.api_json(longer) == orjson.dumps(record.to_json())


def test_a_schema_1_object_stored_as_bytes_is_read_too() -> None:
    record = RequestRecord(id="r", started_at="t", endpoint="/v1/models", cost_usd=Decimal("0.5"))
    assert _codec.api_json(orjson.dumps(record.to_json())) == orjson.dumps(record.to_json())
