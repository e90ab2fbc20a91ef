"""Error bodies in OpenAI's and Anthropic's shapes, with the right type per status."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
import pytest
from pydantic import BaseModel, Discriminator, Tag, ValidationError

from orca_desktop.wire.errors import (
    ApiError,
    anthropic_error_body,
    anthropic_error_from_validation,
    anthropic_path,
    openai_error_body,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (424, "upstream_error"),
        (502, "upstream_error"),
        (503, "upstream_error"),
        (504, "upstream_error"),
    ],
)
def test_openai_body_has_type_by_status(status: int, kind: str) -> None:
    body = orjson.loads(openai_error_body(status, "nope"))
    assert body["error"]["type"] == kind
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"] == "nope"


def test_openai_body_carries_param_and_code() -> None:
    body = orjson.loads(openai_error_body(400, "m", param="temperature", code="invalid_value"))
    assert body == {
        "error": {
            "message": "m",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "invalid_value",
        }
    }
    assert orjson.loads(openai_error_body(413, "big"))["error"]["code"] == "request_too_large"
    assert orjson.loads(openai_error_body(400, "m", type="x"))["error"]["type"] == "x"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_anthropic_body_has_anthropic_type_names(status: int, kind: str) -> None:
    body = orjson.loads(anthropic_error_body(status, "nope"))
    assert body == {"type": "error", "error": {"type": kind, "message": "nope"}}


def test_api_error_renders_both_shapes() -> None:
    error = ApiError(404, "unknown model 'gpt-5o'; did you mean 'gpt-4o'?", param="model")
    assert error.type == "not_found_error"
    assert orjson.loads(error.openai_body())["error"]["param"] == "model"
    assert orjson.loads(error.anthropic_body())["error"]["type"] == "not_found_error"
    assert str(error) == error.message


# --- Anthropic's wording of validation errors -------------------------------------


class _Turn(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: Annotated[
        Annotated[str, Tag("~str")] | Annotated[list[str], Tag("~list")],
        Discriminator(
            lambda v: "~str" if isinstance(v, str) else "~list" if isinstance(v, list) else "~x"
        ),
    ]


class _Body(BaseModel):
    messages: list[_Turn]


def _anthropic_error(body: object) -> ApiError:
    with pytest.raises(ValidationError) as info:
        _Body.model_validate(body)
    return anthropic_error_from_validation(info.value, {"messages[].content": "a string or a list"})


def test_anthropic_path_is_dotted_without_union_tags() -> None:
    assert anthropic_path(("messages", 1, "~list", 0, "type")) == "messages.1.0.type"
    assert anthropic_path(()) == ""


def test_anthropic_wording_uses_pydantics_words_and_the_dotted_path() -> None:
    error = _anthropic_error(
        {"messages": [{"role": "user", "content": "x"}, {"role": "wizard", "content": "x"}]}
    )
    assert error.status == 400 and error.param == "messages[1].role"
    assert error.message == "messages.1.role: Input should be 'user', 'assistant' or 'system'"
    missing = _anthropic_error({"messages": [{"role": "user"}]})
    assert missing.message == "messages.0.content: Field required"


def test_anthropic_wording_hides_union_tags_behind_what_the_field_allows() -> None:
    error = _anthropic_error({"messages": [{"role": "user", "content": 3}, {"role": "x"}]})
    assert error.message == "messages.0.content: Input should be a string or a list"
    assert "~" not in error.message and "more problem" not in error.message
