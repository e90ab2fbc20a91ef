"""What comes back from a provider, as the exchanges need it.

Failure kinds (fall back, or pass the refusal on), the stream-filter protocol,
short error messages that name the provider and never a key, provider error
objects put into OpenAI's shape, Retry-After, and OpenAI usage turned into
`pricing.Usage`. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from orca_desktop.telemetry.pricing import Usage
from orca_desktop.telemetry.record import Attempt


class UpstreamFailure(Exception):
    """One attempt failed in a way that allows the next candidate (before the first byte)."""

    def __init__(self, status: int, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s


class UpstreamRefusal(Exception):
    """The provider refused the request itself (a 4xx that another model would refuse too)."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class StreamFilter(Protocol):
    """What an exchange needs from the sans-I/O filter between upstream and client
    bytes: `StreamCleaner` here, a dialect translator on other endpoints.

    When the upstream ended normally the exchange calls `flush` (the last frame,
    if it came without its blank line), then reads `error` and `complete` to
    choose between `finish` (a clean end) and `error_tail` (a failure)."""

    @property
    def usage(self) -> dict[str, Any] | None: ...  # OpenAI-shaped usage, for accounting
    @property
    def model(self) -> str | None: ...
    @property
    def error(self) -> Any: ...
    @property
    def saw_done(self) -> bool: ...
    @property
    def first_content(self) -> bool: ...
    @property
    def finish_reason(self) -> str | None: ...
    @property
    def complete(self) -> bool: ...  # the answer reached its end marker, nothing cut off
    def feed(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...
    def finish(self) -> bytes: ...
    def error_tail(self, message: str) -> bytes: ...


def usage_from(raw: dict[str, Any]) -> Usage:
    """OpenAI usage object → Usage (missing detail fields are 0)."""
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    if not isinstance(prompt_details, dict):
        prompt_details = {}
    if not isinstance(completion_details, dict):
        completion_details = {}
    return Usage(
        prompt=_int(raw.get("prompt_tokens")),
        completion=_int(raw.get("completion_tokens")),
        cached=_int(prompt_details.get("cached_tokens")),
        reasoning=_int(completion_details.get("reasoning_tokens")),
        cache_write=_int(prompt_details.get("cache_write_tokens")),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def all_failed_status(attempts: list[Attempt]) -> int:
    statuses = {a.status for a in attempts}
    if statuses and statuses <= {429}:
        return 503
    if 0 in statuses and not any(s >= 500 for s in statuses):
        return (
            504
            if all("timed out" in (a.error or "") or "within" in (a.error or "") for a in attempts)
            else 502
        )
    return 502


def upstream_message(status: int, body: bytes, provider: str) -> str:
    detail = ""
    try:
        parsed = orjson.loads(body)
        err = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(err, dict):
            detail = str(err.get("message") or "")
        elif isinstance(err, str):
            detail = err
    except orjson.JSONDecodeError:
        detail = body[:200].decode("utf-8", "replace")
    hint = ""
    if status in (401, 403):
        hint = f" (check the key: `orca-desktop keys test {provider}`)"
    text = f"{provider} answered HTTP {status}{hint}"
    return f"{text}: {detail[:300]}" if detail else text


def retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


_OPENAI_ERROR_KEYS = ("message", "type", "param", "code")


def openai_error_object(error: Any, *, type: str, message: str) -> dict[str, Any]:  # noqa: A002
    """A provider's error object in OpenAI's shape (`message`, `type`, `param`, `code`).

    The provider's own values are kept and missing keys filled (`type` and
    `message` with the defaults given, the others with null), so SDKs that read
    `error.param` or `error.code` find them. An object already in shape is
    returned as it is (the caller can then forward the provider's bytes).
    """
    if not isinstance(error, dict):
        text = error if isinstance(error, str) and error else message
        return {"message": text, "type": type, "param": None, "code": None}
    given_message, given_type = error.get("message"), error.get("type")
    if (
        isinstance(given_message, str)
        and isinstance(given_type, str)
        and "param" in error
        and "code" in error
    ):
        return error
    shaped: dict[str, Any] = {
        "message": given_message if isinstance(given_message, str) else message,
        "type": given_type if isinstance(given_type, str) and given_type else type,
        "param": error.get("param"),
        "code": error.get("code"),
    }
    shaped.update((k, v) for k, v in error.items() if k not in _OPENAI_ERROR_KEYS)
    return shaped


def error_text(error: Any) -> str:
    """The message of an upstream error object (OpenAI's or Anthropic's), short."""
    if isinstance(error, dict):
        inner = error.get("error") if isinstance(error.get("error"), dict) else error
        message = inner.get("message") if isinstance(inner, dict) else None
        if message:
            return str(message)[:300]
    return str(error)[:300]
