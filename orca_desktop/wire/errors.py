"""Error values and the two error body shapes that cross HTTP.

Owns `ApiError` (an error a client should see, with its HTTP status) and the
serialisation of errors in OpenAI's shape (`{"error": {...}}`) and Anthropic's
shape (`{"type": "error", "error": {...}}`). Also turns a pydantic
`ValidationError` into an `ApiError` that names the field and what it allows.

Never does I/O, never logs, and never puts a secret into a message: callers pass
messages that are already safe to show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

__all__ = [
    "ApiError",
    "anthropic_error_body",
    "anthropic_type_for",
    "anthropic_error_from_validation",
    "error_from_validation",
    "openai_error_body",
    "openai_type_for",
]

_OPENAI_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
}

_ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def openai_type_for(status: int) -> str:
    """OpenAI's error `type` for a status: 5xx other than 500 (and 424) are
    `upstream_error`, because the gateway only produces them for provider failures."""
    known = _OPENAI_TYPES.get(status)
    if known is not None:
        return known
    if status == 424 or status >= 500:
        return "upstream_error"
    return "invalid_request_error"


def anthropic_type_for(status: int) -> str:
    """Anthropic's error `type` names, which the Anthropic SDKs map to exceptions."""
    known = _ANTHROPIC_TYPES.get(status)
    if known is not None:
        return known
    if status >= 500 or status == 424:
        return "api_error"
    return "invalid_request_error"


class ApiError(Exception):
    """An error to answer with: status, human message, and OpenAI's type/param/code.

    `type` defaults from the status (OpenAI names); `param` names the offending
    field path ("messages[2].role") when there is one. The message must already
    be safe to show to the client (no secrets).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,  # noqa: A002 - the wire name
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type if type is not None else openai_type_for(status)
        self.param = param
        if code is None and status == 413:
            code = "request_too_large"
        self.code = code

    def __repr__(self) -> str:
        return (
            f"ApiError(status={self.status}, message={self.message!r}, type={self.type!r}, "
            f"param={self.param!r}, code={self.code!r})"
        )

    def openai_body(self) -> bytes:
        """This error in OpenAI's shape."""
        return openai_error_body(
            self.status, self.message, type=self.type, param=self.param, code=self.code
        )

    def anthropic_body(self) -> bytes:
        """This error in Anthropic's shape (type re-derived from the status)."""
        return anthropic_error_body(self.status, self.message)


def openai_error_body(
    status: int,
    message: str,
    *,
    type: str | None = None,  # noqa: A002 - the wire name
    param: str | None = None,
    code: str | None = None,
) -> bytes:
    """`{"error": {"message", "type", "param", "code"}}` as JSON bytes."""
    if code is None and status == 413:
        code = "request_too_large"
    return orjson.dumps(
        {
            "error": {
                "message": message,
                "type": type if type is not None else openai_type_for(status),
                "param": param,
                "code": code,
            }
        }
    )


def anthropic_error_body(
    status: int,
    message: str,
    *,
    type: str | None = None,  # noqa: A002 - the wire name
) -> bytes:
    """`{"type": "error", "error": {"type", "message"}}` as JSON bytes."""
    return orjson.dumps(
        {
            "type": "error",
            "error": {
                "type": type if type is not None else anthropic_type_for(status),
                "message": message,
            },
        }
    )


# --- pydantic errors -> ApiError ---------------------------------------------

_MAX_SHOWN = 60


def field_path(loc: tuple[int | str, ...]) -> str:
    """`("messages", 2, "role")` -> `"messages[2].role"`.

    Location parts starting with "~" are union branch tags (see wire/openai.py)
    and are not part of the client's field path.
    """
    out: list[str] = []
    for part in loc:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part.startswith("~"):
            continue
        elif out:
            out.append(f".{part}")
        else:
            out.append(part)
    return "".join(out)


def _pattern(path: str) -> str:
    """`"messages[2].content[0].type"` -> `"messages[].content[].type"`."""
    out: list[str] = []
    skipping = False
    for ch in path:
        if ch == "[":
            skipping = True
            out.append("[]")
        elif ch == "]":
            skipping = False
        elif not skipping:
            out.append(ch)
    return "".join(out)


def shown(value: Any) -> str:
    """A short JSON rendering of a client's value for an error message."""
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def _describe(allowed: Mapping[str, str], path: str) -> str | None:
    pattern = _pattern(path)
    what = allowed.get(pattern)
    if what is None and "." in pattern:
        what = allowed.get(pattern.rsplit(".", 1)[0] + ".*")
    return what


def error_from_validation(
    exc: ValidationError, allowed: Mapping[str, str], *, prefix: str = ""
) -> ApiError:
    """The first problem in `exc` as `ApiError(400)` naming the field path.

    `allowed` maps a field pattern ("messages[].role"; "[]" any index, "x.*" any
    key of object x) to what it accepts ("one of 'system', 'user'"); unknown
    patterns fall back to pydantic's words. Custom errors of type "field_rule"
    (ctx: field, rule) name a field below the failing object.
    """
    errors = exc.errors(include_url=False)
    if not errors:  # pragma: no cover - pydantic never raises an empty error
        return ApiError(400, "invalid request body", code="invalid_value")
    first = errors[0]
    loc = tuple(part for part in first["loc"] if part != "[key]")
    kind = first["type"]
    ctx = first.get("ctx") or {}
    if kind == "field_rule":
        path = prefix + field_path((*loc, str(ctx.get("field", ""))))
        message = f"{path}: {ctx.get('rule', first['msg'])}"
    else:
        path = prefix + field_path(loc)
        what = _describe(allowed, path)
        got = shown(first.get("input"))
        if kind == "missing":
            message = f"{path}: is required" + (f"; must be {what}" if what else "")
        elif what is not None:
            message = f"{path or 'body'}: must be {what} (got {got})"
        else:
            message = f"{path or 'body'}: {first['msg'][:1].lower()}{first['msg'][1:]} (got {got})"
    if len(errors) > 1:
        more = len(errors) - 1
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ApiError(400, message, param=path or None, code="invalid_value")


# --- pydantic errors -> ApiError, in Anthropic's words -----------------------------

# pydantic messages that would show our internals (union tags, class names)
_INTERNAL_KINDS = frozenset(
    (
        "union_tag_invalid", "union_tag_not_found", "model_type", "model_attributes_type",
        "is_instance_of", "dataclass_type", "tagged_union_tag_invalid",
    )
)  # fmt: skip


def anthropic_path(loc: tuple[int | str, ...]) -> str:
    """`("messages", 1, "~list", 0, "type")` -> `"messages.1.0.type"`: Anthropic's
    dotted form (its API is pydantic too), union tags left out."""
    return ".".join(
        str(part) for part in loc if not (isinstance(part, str) and part.startswith("~"))
    )


def anthropic_error_from_validation(exc: ValidationError, allowed: Mapping[str, str]) -> ApiError:
    """The first problem in `exc` as `ApiError(400)` worded as Anthropic's API words
    it: `messages.1.role: Input should be 'user', 'assistant' or 'system'`,
    `max_tokens: Field required`. Claude Code reads these messages (it recognises
    some wordings about roles), so no "(got ...)" and no "(and N more problems)".

    `param` keeps the OpenAI-style path ("messages[1].role"). Where pydantic's own
    words would name our union tags or classes, `allowed` (as for
    `error_from_validation`) gives "Input should be <what it allows>".
    """
    errors = exc.errors(include_url=False)
    if not errors:  # pragma: no cover - pydantic never raises an empty error
        return ApiError(400, "invalid request body", code="invalid_value")
    first = errors[0]
    loc = tuple(part for part in first["loc"] if part != "[key]")
    kind = first["type"]
    ctx = first.get("ctx") or {}
    if kind == "field_rule":
        field = str(ctx.get("field", ""))
        loc = (*loc, field)
        words = str(ctx.get("rule", first["msg"]))
    elif kind == "missing":
        words = "Field required"
    elif kind in _INTERNAL_KINDS or "~" in first["msg"]:
        what = _describe(allowed, field_path(loc))
        words = f"Input should be {what}" if what else "Input has an unexpected shape"
    else:
        words = first["msg"]
    dotted = anthropic_path(loc)
    path = field_path(loc)
    message = f"{dotted}: {words}" if dotted else words
    return ApiError(400, message, param=path or None, code="invalid_value")
