"""The stream cleaner: upstream OpenAI-style SSE bytes in, clean SSE bytes and facts out.

Owns `StreamCleaner`, which sits between a provider's chat completions stream and
the client. It forwards every complete `data:` frame as soon as its blank line
arrives, whatever byte boundaries the upstream chunks had, and:

- strips comments (`: keep-alive`), `id:`/`retry:` lines and events whose type is
  neither absent nor `message`; an upstream `event: error` becomes a
  `data: {"error": ...}` frame, so a failure is never silently dropped;
- drops frames whose `choices` is empty or missing (content-filter pre-frames and
  the like): dropping is the one rewrite that every SDK survives, since a frame
  without choices carries nothing a client renders;
- keeps the usage frame (empty `choices` plus `usage`) only when the client asked
  for it (`keep_usage`), and removes `usage` from frames that still have choices
  when it did not; records `usage` either way;
- passes upstream error frames (`{"error": ...}`) on in OpenAI's error shape
  (`message`, `type`, `param`, `code`; missing keys filled), unchanged when they
  already have it;
- sends `data: [DONE]` exactly once, and nothing after it.

Ordinary frames leave byte for byte as they came (no re-serialising); only frames
that needed fixing (other line endings, several data lines, extra fields, a usage
the client did not ask for, an error not in shape) are written anew as
`data: <payload>\\n\\n`. JSON is parsed only where a
cheap byte check says a frame might matter (empty choices, usage, finish_reason,
error). Ordinary frames before the first content (the role-only opening, the
first content frame) go out on that byte check too, and are parsed after they
went out, for the facts only a parse finds (the reported model, whether there is
content yet): a stream's first byte waits for no JSON parse.

Never does I/O, never blocks, never keeps a complete frame back, and never
rewrites the `model` a provider reported (it is recorded in `.model`).
"""

from __future__ import annotations

from typing import Any

import orjson

from orca_desktop.gateway.upstream import openai_error_object
from orca_desktop.wire.errors import openai_error_body

__all__ = ["DONE_FRAME", "StreamCleaner"]

DONE_FRAME = b"data: [DONE]\n\n"

_NULL = (b":null", b": null")
# How ordinary content frames end (OpenAI, and compact or spaced JSON from servers
# that mimic it): a choice whose finish_reason is null closes the frame, optionally
# followed by a null usage. A frame ending like this needs no parsing; after the
# first content, a stray top-level "error" before its choices would still be
# forwarded, only not recorded (before it, `_keep` looks for "error" itself), and a
# usage before its choices goes out too (the final frame, whose finish_reason is
# set, is always parsed, so a usage there is removed when the client did not ask).
_ORDINARY_TAILS = (
    b'"finish_reason":null}],"usage":null}',
    b'"finish_reason":null}]}',
    b'"finish_reason": null}], "usage": null}',
    b'"finish_reason": null}]}',
)
_LIST_OF_OBJECTS = (b":[{", b": [{")
_ERROR_TYPE = "upstream_error"  # for an upstream error that names no type
_ERROR_MESSAGE = "the provider reported an error"  # for one that gives no message


class StreamCleaner:
    """Sans-I/O cleaner for one OpenAI chat completions stream.

    Call `feed` with each upstream chunk and send what it returns; then `finish`
    when the upstream ended normally, or `error_tail` when it failed. After
    either, the cleaner is closed and returns b"". A caller that wants to judge a
    normal end first calls `flush` (the last frame, if whole) and reads
    `complete`: an upstream that stopped without [DONE] or a finish_reason, or
    inside a frame, ended early, and `error_tail` says so better than [DONE].

    Facts, readable at any time:
    `usage` (last usage object seen), `model` (the model the provider reported,
    else `served_model`), `saw_done` (the upstream sent [DONE]), `first_content`
    (a frame with a non-empty delta arrived), `finish_reason` (last non-null one),
    `error` (an upstream error object in OpenAI's shape, if any), `frames` (data
    frames received, [DONE] not counted), `dropped` (of those, not forwarded),
    `truncated` (the upstream ended inside a frame that was thrown away),
    `complete` (the answer ended with [DONE] or a finish_reason, nothing cut off).

    Ordinary frames forwarded before the first content are parsed later: at the
    next `feed` (by then the gateway has sent them) or when a fact is read,
    whichever comes first. So the facts a parse finds are properties that read
    those frames first. `error` is a plain attribute, exact as soon as `feed`
    returned: a frame holding the bytes `"error"` is always parsed on arrival,
    because an error before any content decides whether the gateway falls back.
    """

    __slots__ = (
        "_buf",
        "_closed",
        "_content_seen",
        "_done_sent",
        "_finish_reason",
        "_reported_model",
        "_skip_lf",
        "_unread",
        "_usage",
        "dropped",
        "error",
        "frames",
        "keep_usage",
        "saw_done",
        "served_model",
        "truncated",
    )

    def __init__(self, *, served_model: str | None = None, keep_usage: bool = False) -> None:
        self.served_model = served_model
        self.keep_usage = keep_usage
        self.saw_done = False
        self.error: Any = None
        self.frames = 0
        self.dropped = 0
        self.truncated = False
        self._usage: dict[str, Any] | None = None
        self._reported_model: str | None = None
        self._finish_reason: str | None = None
        self._content_seen = False
        self._unread: list[bytes] = []  # forwarded payloads not parsed yet, in order
        self._buf = b""
        self._skip_lf = False  # the last chunk ended in "\r": a leading "\n" belongs to it
        self._done_sent = False
        self._closed = False

    # --- facts a parse finds --------------------------------------------------------

    @property
    def model(self) -> str | None:
        """The model id the provider reported in the stream, else `served_model`."""
        if self._unread:
            self._read_unread()
        return self._reported_model or self.served_model

    @property
    def first_content(self) -> bool:
        """A frame with a non-empty delta arrived."""
        if self._unread:
            self._read_unread()
        return self._content_seen

    @property
    def usage(self) -> dict[str, Any] | None:
        """The last usage object the upstream reported."""
        if self._unread:
            self._read_unread()
        return self._usage

    @property
    def finish_reason(self) -> str | None:
        """The last non-null finish_reason."""
        if self._unread:
            self._read_unread()
        return self._finish_reason

    @property
    def complete(self) -> bool:
        """The upstream ended its answer: [DONE] or a finish_reason arrived, and no
        frame was cut off. A finish_reason without [DONE] is a complete answer (some
        providers never send [DONE]); read after `flush`, which finds a cut frame."""
        return not self.truncated and (self.saw_done or self.finish_reason is not None)

    # --- input ------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Clean SSE bytes for everything completed by `data` (may be b"").

        When every event completed by `data` goes out as it came, the result is
        `data` itself (or its head), not a copy."""
        if self._closed or not data:
            return b""
        if self._unread:
            self._read_unread()  # what the last feed returned has gone out by now
        if self._skip_lf:
            self._skip_lf = False
            if data[0] == 0x0A:
                data = data[1:]
        if b"\r" in data:
            # Any line ending becomes "\n"; a frame that had "\r" is therefore
            # re-written canonically, which keeps the output independent of where
            # an upstream "\r\n" was split.
            self._skip_lf = data[-1] == 0x0D
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        held = self._buf
        if held:
            buf = held + data
            end = buf.find(b"\n\n", len(held) - 1)
        else:
            buf = data
            end = buf.find(b"\n\n")
        if end < 0:
            self._buf = buf
            return b""
        out: list[bytes] = []
        start = 0
        sent = 0  # buf[sent:start] are events that go out as they came, not in `out` yet
        while end >= 0:
            instead = self._event(buf, start, end)
            if instead is not None:
                if sent < start:
                    out.append(buf[sent:start])
                out.append(instead)
                sent = end + 2
            start = end + 2
            end = buf.find(b"\n\n", start)
        self._buf = buf[start:]
        if not out:
            return buf if start == len(buf) else buf[:start]
        if sent < start:
            out.append(buf[sent:start])
        return b"".join(out)

    def flush(self) -> bytes:
        """The upstream ended: its last frame if that came whole without the blank
        line, else nothing (and `truncated` is set). The stream stays open, for
        `finish` or `error_tail`."""
        if self._closed:
            return b""
        tail = self._buf.strip(b"\n")
        self._buf = b""
        if not tail:
            return b""
        out: list[bytes] = []
        self._last_event(tail, out)
        return b"".join(out)

    def finish(self) -> bytes:
        """End of a normal upstream stream: the last frame if it is whole (see
        `flush`), then `data: [DONE]` unless it was already sent."""
        if self._closed:
            return b""
        out = self.flush()
        self._closed = True
        if self._done_sent:
            return out
        self._done_sent = True
        return out + DONE_FRAME

    def error_tail(self, message: str, *, code: str | None = None) -> bytes:
        """End after an upstream failure: an OpenAI-shaped error frame
        (type `upstream_error`) and `data: [DONE]`; b"" once [DONE] went out."""
        self._closed = True
        if self._done_sent:
            return b""
        self._done_sent = True
        self._buf = b""
        body = openai_error_body(502, message, type="upstream_error", code=code)
        return b"data: " + body + b"\n\n" + DONE_FRAME

    # --- events -------------------------------------------------------------------

    def _event(self, buf: bytes, start: int, end: int) -> bytes | None:
        """The event `buf[start:end]`: None when it goes out as it came (with its
        blank line), else the bytes that go out instead (b"" for nothing)."""
        if buf[start] == 0x0A:  # blank lines before the event: it goes out without them
            block = buf[start:end].lstrip(b"\n")
            if not block:
                return b""
            framed = block + b"\n\n"
            instead = self._event(framed, 0, len(block))
            return framed if instead is None else instead
        if buf.startswith(b"data:", start) and buf.find(b"\n", start, end) < 0:
            at = start + 6 if buf[start + 5] == 0x20 else start + 5
            return self._keep(buf[at:end])
        kind, joined = _fields(buf[start:end])
        if joined is None:
            return b""
        if kind == b"error":
            return self._error_event(joined)
        if kind is not None:
            return b""
        instead = self._keep(joined)
        return _canonical(joined) if instead is None else instead

    def _last_event(self, block: bytes, out: list[bytes]) -> None:
        """An event cut off by the end of the stream: kept only if its data is whole."""
        kind, payload = _fields(block)
        if payload is None or kind is not None:
            return
        if payload != b"[DONE]":
            try:
                orjson.loads(payload)
            except orjson.JSONDecodeError:
                self.truncated = True
                return
        instead = self._keep(payload)
        out.append(_canonical(payload) if instead is None else instead)

    def _error_event(self, payload: bytes) -> bytes:
        """An upstream `event: error` (OpenAI's `{"error": ...}`, Anthropic's, or a bare
        object or text) as an OpenAI error frame."""
        if self._done_sent:
            return b""
        self.frames += 1
        try:
            value: Any = orjson.loads(payload)
        except orjson.JSONDecodeError:
            value = payload.decode("utf-8", "replace")
        if isinstance(value, dict) and value.get("error") is not None:
            value = value["error"]
        elif not isinstance(value, dict | str):
            value = payload.decode("utf-8", "replace")
        self.error = error = openai_error_object(value, type=_ERROR_TYPE, message=_ERROR_MESSAGE)
        return b"data: " + orjson.dumps({"error": error}) + b"\n\n"

    # --- frames -------------------------------------------------------------------

    def _keep(self, payload: bytes) -> bytes | None:
        """Record the frame's facts (or queue it for them). None when the frame goes to
        the client as it came, b"" when it is dropped, else the frame to send instead."""
        if payload == b"[DONE]":
            self.saw_done = True
            if self._done_sent:
                return b""
            self._done_sent = True
            return None
        self.frames += 1
        if self._done_sent:
            self.dropped += 1
            return b""
        if _plain(payload):
            if self._content_seen:
                return None
            if b'"error"' not in payload:
                self._unread.append(payload)  # read for its model and content once sent
                return None
        instead = self._judge(payload)
        if instead == b"":
            self.dropped += 1
        return instead

    def _read_unread(self) -> None:
        """Parse the frames that went out unparsed, in order, for their facts.

        Once one has content the rest are left unread, as plain frames after the
        first content always are."""
        unread, self._unread = self._unread, []
        for payload in unread:
            if self._content_seen:
                break
            self._judge(payload)

    def _judge(self, payload: bytes) -> bytes | None:
        """Parse a frame and record its facts; what goes to the client as `_keep` says.
        Frames still unread are read first, so facts keep the stream's order."""
        if self._unread:
            self._read_unread()
        try:
            frame = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None  # not ours to police: forwarded as the provider sent it
        if not isinstance(frame, dict):
            return None
        error = frame.get("error")
        if error is not None:
            return self._error_frame(frame, error)
        model = frame.get("model")
        if self._reported_model is None and isinstance(model, str) and model:
            self._reported_model = model
        usage = frame.get("usage")
        has_usage = isinstance(usage, dict)
        if has_usage:
            self._usage = usage
        choices = frame.get("choices")
        if not isinstance(choices, list) or not choices:
            return None if has_usage and self.keep_usage else b""
        for choice in choices:
            if isinstance(choice, dict):
                self._note_choice(choice)
        if has_usage and not self.keep_usage:
            del frame["usage"]  # usage on a frame with choices: the client did not ask
            return _frame(frame)
        return None

    def _error_frame(self, frame: dict[str, Any], error: Any) -> bytes | None:
        """Record an upstream error; the frame with it in OpenAI's shape (None: as it came)."""
        self.error = shaped = openai_error_object(error, type=_ERROR_TYPE, message=_ERROR_MESSAGE)
        if shaped is error:
            return None
        frame["error"] = shaped
        return _frame(frame)

    def _note_choice(self, choice: dict[str, Any]) -> None:
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self._finish_reason = reason
        if not self._content_seen:
            delta = choice.get("delta")
            if isinstance(delta, dict) and any(v for k, v in delta.items() if k != "role"):
                self._content_seen = True


def _plain(payload: bytes) -> bool:
    """True when a frame is plainly ordinary content: non-empty choices and no
    usage, finish_reason or error worth reading. False means "parse it"."""
    if payload.endswith(_ORDINARY_TAILS):
        return True
    i = payload.find(b'"choices"')
    if i < 0 or not payload.startswith(_LIST_OF_OBJECTS, i + 9):
        return False
    i = payload.find(b'"usage"')
    if i >= 0 and not payload.startswith(_NULL, i + 7):
        return False
    i = payload.find(b'"finish_reason"')
    if i >= 0 and not payload.startswith(_NULL, i + 15):
        return False
    return b'"error"' not in payload


def _fields(block: bytes) -> tuple[bytes | None, bytes | None]:
    """(event type or None for a message event, joined data or None) of one event."""
    data: list[bytes] = []
    kind: bytes | None = None
    for line in block.split(b"\n"):
        if not line or line[0] == 0x3A:  # ":" starts a comment
            continue
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            kind = value if value and value != b"message" else None
    if not data:
        return kind, None
    return kind, b"\n".join(data)


def _frame(value: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(value) + b"\n\n"


def _canonical(payload: bytes) -> bytes:
    return b"data: " + payload.replace(b"\n", b"\ndata: ") + b"\n\n"
