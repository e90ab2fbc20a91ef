"""A scripted LLM provider for tests: a real aiohttp server on 127.0.0.1, free port.

It speaks OpenAI chat completions (`POST /v1/chat/completions`, JSON and SSE),
`GET /v1/models`, and Anthropic Messages (`POST /v1/messages`, JSON and SSE).
Each model id is scripted with a `Reply`, a `Fail` or a `Drop` (or a list of them,
one per call; the last one repeats), and every request is recorded as a `Received`:
method, path, headers, parsed body, and whether the client went away before the
reply was complete (observed server-side: the handler is cancelled or its write fails).

    async with FakeProvider(require_key="sk-test-1") as fake:
        fake.script("fake-small", Reply(content="hi", prompt_tokens=12, completion_tokens=5))
        fake.script("seq", [Fail(500), Reply()])
        ...  # point the code under test at fake.base_url
        assert fake.received_for("fake-small")[0].bearer == "sk-test-1"

It never sleeps except where a script asks for it, and it never talks to the network
beyond its own loopback socket.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from multidict import CIMultiDict

DEFAULT_TEXT = "Hello from the fake provider."


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call in a reply; `arguments` is the JSON text the model produced."""

    name: str
    arguments: str = "{}"
    id: str | None = None  # default: call_fake_<n>, unique per reply


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful answer, as JSON or as a stream depending on the request's `stream`.

    `content=None` means DEFAULT_TEXT when there are no tool calls, and no text otherwise.
    In a stream the text goes out as `chunks` pieces (default one per word) with
    `chunk_interval` seconds between them; tool-call arguments go out in fragments of
    `argument_fragment_chars`. `first_byte_delay` delays the response head (JSON or SSE).
    `drop_after_chunks=n` closes the connection after n content/argument chunks, without
    a finish frame or `[DONE]`. `end_after_chunks=n` instead ends the response cleanly after
    n chunks, having sent the bytes `end_with` (say, an error frame or half a frame) and
    nothing else. `send_done=False` leaves out OpenAI's `[DONE]`; `usage_in_finish` puts
    the usage on the finish frame (which still has its choice) instead of a separate usage
    frame, whether the client asked or not. `content_filter_preframe` sends an Azure-style
    first frame with `"choices": []`; `sse_comments` and `unknown_events` add `: comment`
    lines and an unknown `event:` frame between the regular frames.
    """

    content: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    prompt_tokens: int = 10
    completion_tokens: int = 5
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None  # Anthropic's cache_creation_input_tokens
    reasoning_tokens: int | None = None
    served_model: str | None = None  # the body's "model"; default: the requested id
    finish_reason: str | None = None  # default: "tool_calls" with tool calls, else "stop"
    chunks: int | None = None
    chunk_interval: float = 0.0
    argument_fragment_chars: int = 8
    first_byte_delay: float = 0.0
    drop_after_chunks: int | None = None
    end_after_chunks: int | None = None
    end_with: bytes = b""
    send_done: bool = True
    usage_in_finish: bool = False
    content_filter_preframe: bool = False
    sse_comments: bool = False
    unknown_events: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str | None:
        """The reply's text, with the default applied."""
        if self.content is None and not self.tool_calls:
            return DEFAULT_TEXT
        return self.content


@dataclass(frozen=True, slots=True)
class Fail:
    """An HTTP error reply. `body=None` sends the API's own error JSON (OpenAI's shape,
    or Anthropic's on /v1/messages); a dict is sent as JSON, str/bytes as they are."""

    status: int
    body: Any = None
    retry_after: float | None = None
    message: str | None = None
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Drop:
    """Close the connection without any response (the client sees a connection error)."""

    delay: float = 0.0


Step = Reply | Fail | Drop
Api = Literal["openai", "anthropic", "models"]
Frame = bytes | float | None  # bytes to write, seconds to sleep, or None: drop the connection


@dataclass(slots=True, eq=False)
class Received:
    """One request as the fake saw it. Mutated while its reply is in flight."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    raw_body: bytes
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    api: Api
    status: int = 0  # what the fake answered; 0 while undecided or for Drop
    disconnected: bool = False  # the client went away before the reply was complete
    completed: bool = False  # the whole reply was written
    peer: Any = None  # the client's (host, port): equal ports mean one pooled connection

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")

    @property
    def bearer(self) -> str | None:
        auth = self.authorization or ""
        return auth[7:] if auth.lower().startswith("bearer ") else None

    @property
    def api_key(self) -> str | None:
        return self.headers.get("x-api-key")

    @property
    def anthropic_version(self) -> str | None:
        return self.headers.get("anthropic-version")


class FakeProvider:
    """The fake server. Use as `async with FakeProvider() as fake:`; see the module docstring."""

    def __init__(self, *, require_key: str | None = None, default: Step | None = None) -> None:
        self.require_key = require_key
        self.default = default
        self.requests: list[Received] = []
        self._scripts: dict[str, list[Step]] = {}
        self._calls: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._closing = False  # handlers cancelled by our own shutdown are not disconnects
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> FakeProvider:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/messages", self._messages)
        # handler_cancellation: a client that goes away cancels the handler at once,
        # even while it sleeps, so disconnects are observed without waiting for a write.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            self._closing = True
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- scripting and inspection ----------------------------------------------------
    def script(self, model: str, steps: Step | Sequence[Step]) -> None:
        """Answer `model` with `steps`: one step for every call, or a list used in order
        (the last one repeats). Re-scripting a model restarts its sequence."""
        seq = [steps] if isinstance(steps, Reply | Fail | Drop) else list(steps)
        if not seq:
            raise ValueError("script needs at least one step")
        self._scripts[model] = seq
        self._calls[model] = 0

    def received_for(self, model: str) -> list[Received]:
        return [r for r in self.requests if r.model == model]

    @property
    def disconnects(self) -> int:
        """Requests whose client went away before the reply was complete."""
        return sum(r.disconnected for r in self.requests)

    def clear(self) -> None:
        """Forget what was received (scripts and their positions stay)."""
        self.requests.clear()

    async def wait_for_disconnects(self, count: int = 1, *, timeout: float = 5.0) -> None:
        await self._wait_until(lambda: self.disconnects >= count, timeout, f"{count} disconnects")

    async def wait_for_requests(self, count: int = 1, *, timeout: float = 5.0) -> None:
        await self._wait_until(lambda: len(self.requests) >= count, timeout, f"{count} requests")

    async def _wait_until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake provider: no {what} within {timeout} s")
            await asyncio.sleep(0.01)

    def _next_step(self, model: str | None) -> Step | None:
        seq = self._scripts.get(model or "")
        if seq is None:
            return self.default
        n = self._calls[model or ""]
        self._calls[model or ""] = n + 1
        return seq[min(n, len(seq) - 1)]

    # -- handlers --------------------------------------------------------------------
    async def _record(self, request: web.Request, api: Api) -> Received:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = Received(
            request.method,
            request.path,
            dict(request.query),
            CIMultiDict(request.headers),
            raw,
            body,
            api,
            peer=request.transport.get_extra_info("peername") if request.transport else None,
        )
        self.requests.append(rec)
        return rec

    def _authorized(self, rec: Received, *, anthropic: bool) -> bool:
        if self.require_key is None:
            return True
        if anthropic or rec.api == "models":
            # Anthropic takes x-api-key; its newer SDKs send `Authorization: Bearer` instead
            return self.require_key in (rec.api_key, rec.bearer)
        return rec.bearer == self.require_key

    async def _models(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request, "models")
        if not self._authorized(rec, anthropic=False):
            return self._error(rec, Fail(401, message="invalid api key"), anthropic=False)
        # one shape that both SDKs accept: OpenAI's fields plus Anthropic's
        data = [
            {
                "id": m,
                "object": "model",
                "created": 1700000000,
                "owned_by": "fake",
                "type": "model",
                "display_name": m,
                "created_at": "2023-11-14T22:13:20Z",
            }
            for m in self._scripts
        ]
        rec.status, rec.completed = 200, True
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, anthropic=False)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, anthropic=True)

    async def _serve(self, request: web.Request, *, anthropic: bool) -> web.StreamResponse:
        rec = await self._record(request, "anthropic" if anthropic else "openai")
        try:
            return await self._answer(request, rec, anthropic=anthropic)
        except (asyncio.CancelledError, ConnectionResetError):
            rec.disconnected = not rec.completed and not self._closing
            raise

    async def _answer(
        self, request: web.Request, rec: Received, *, anthropic: bool
    ) -> web.StreamResponse:
        if not self._authorized(rec, anthropic=anthropic):
            return self._error(rec, Fail(401, message="invalid api key"), anthropic=anthropic)
        if not isinstance(rec.body, dict):
            return self._error(
                rec, Fail(400, message="body is not a JSON object"), anthropic=anthropic
            )
        step = self._next_step(rec.model)
        if step is None:
            return self._error(
                rec, Fail(404, message=f"model {rec.model!r} does not exist"), anthropic=anthropic
            )
        if isinstance(step, Drop):
            await asyncio.sleep(step.delay)
            return self._drop(request, rec)
        if isinstance(step, Fail):
            await asyncio.sleep(step.delay)
            return self._error(rec, step, anthropic=anthropic)
        await asyncio.sleep(step.first_byte_delay)
        served = step.served_model or rec.model or "fake"
        if anthropic and rec.stream:
            return await self._stream(request, rec, step, _anthropic_frames(step, served))
        if anthropic:
            return self._json(rec, _anthropic_message(step, served), step)
        if not rec.stream:
            return self._json(rec, _openai_completion(step, served, next(self._ids)), step)
        options = rec.body.get("stream_options")
        usage = isinstance(options, dict) and options.get("include_usage") is True
        frames = _openai_frames(step, served, next(self._ids), include_usage=usage)
        return await self._stream(request, rec, step, frames)

    def _json(self, rec: Received, payload: dict[str, Any], step: Reply) -> web.Response:
        rec.status, rec.completed = 200, True
        return web.json_response(payload, headers=dict(step.headers))

    def _error(self, rec: Received, fail: Fail, *, anthropic: bool) -> web.Response:
        headers = dict(fail.headers)
        if fail.retry_after is not None:
            ra = fail.retry_after
            headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        body = fail.body
        if body is None:
            message = fail.message or f"fake provider error {fail.status}"
            body = (
                _anthropic_error(fail.status, message)
                if anthropic
                else _openai_error(fail.status, message)
            )
        rec.status, rec.completed = fail.status, True
        if isinstance(body, dict | list):
            return web.json_response(body, status=fail.status, headers=headers)
        data = body.encode() if isinstance(body, str) else bytes(body)
        if not any(k.lower() == "content-type" for k in headers):  # a script may set its own
            headers["Content-Type"] = "application/json"
        return web.Response(body=data, status=fail.status, headers=headers)

    def _drop(self, request: web.Request, rec: Received) -> web.StreamResponse:
        rec.completed = True  # the fake chose to end it; not a client disconnect
        if request.transport is not None:
            request.transport.close()
        return web.Response()  # aiohttp's write to the closed transport fails quietly

    async def _stream(
        self, request: web.Request, rec: Received, step: Reply, frames: Iterator[Frame]
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Cache-Control": "no-cache", **step.headers})
        resp.content_type = "text/event-stream"
        rec.status = 200
        await resp.prepare(request)
        for frame in frames:
            if frame is None:  # drop point
                return self._drop(request, rec)
            if isinstance(frame, float):
                await asyncio.sleep(frame)
            else:
                await resp.write(frame)
        await resp.write_eof()
        rec.completed = True
        return resp


# -- OpenAI wire ---------------------------------------------------------------------
def _sse(obj: Any, event: str | None = None) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def _usage(step: Reply) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": step.prompt_tokens,
        "completion_tokens": step.completion_tokens,
        "total_tokens": step.prompt_tokens + step.completion_tokens,
    }
    if step.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": step.cached_tokens, "audio_tokens": 0}
    if step.reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": step.reasoning_tokens}
    return usage


def _finish(step: Reply) -> str:
    return step.finish_reason or ("tool_calls" if step.tool_calls else "stop")


def _call_ids(step: Reply) -> list[str]:
    return [c.id or f"call_fake_{i}" for i, c in enumerate(step.tool_calls)]


def _openai_completion(step: Reply, served: str, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.text(), "refusal": None}
    if step.tool_calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for cid, c in zip(_call_ids(step), step.tool_calls, strict=True)
        ]
    return {
        "id": f"chatcmpl-fake-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": served,
        "system_fingerprint": "fp_fake",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(step)}
        ],
        "usage": _usage(step),
    }


def _pieces(text: str, chunks: int | None) -> list[str]:
    if not text:
        return []
    if chunks is None:
        return re.findall(r"\s*\S+\s*|\s+", text)
    size = -(-len(text) // max(1, chunks))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _fragments(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(1, size))] or [""]


def _paced(step: Reply, frames: Sequence[tuple[bytes, bool]]) -> Generator[Frame, None, bool]:
    """The body frames with the scripted pacing; True marks a chunk (content or argument
    fragment), which is what `chunk_interval`, `drop_after_chunks` and `end_after_chunks`
    count. Returns True when the script ended the stream here (the caller adds nothing)."""
    sent = 0
    for frame, is_chunk in frames:
        if is_chunk:
            if step.drop_after_chunks is not None and sent >= step.drop_after_chunks:
                yield None
                return True
            if step.end_after_chunks is not None and sent >= step.end_after_chunks:
                return (yield from _end(step))
            if sent and step.chunk_interval:
                yield float(step.chunk_interval)
            sent += 1
        yield frame
        if step.sse_comments:
            yield b": fake keep-alive\n\n"
    if step.drop_after_chunks is not None:
        yield None
        return True
    if step.end_after_chunks is not None:
        return (yield from _end(step))
    return False


def _end(step: Reply) -> Generator[Frame, None, bool]:
    """A clean end of the response after `step.end_with`."""
    if step.end_with:
        yield step.end_with
    return True


def _openai_frames(step: Reply, served: str, n: int, *, include_usage: bool) -> Iterator[Frame]:
    base = {
        "id": f"chatcmpl-fake-{n}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": served,
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**base, "choices": [choice]})

    if step.sse_comments:
        yield b": fake provider stream\n\n"
    if step.content_filter_preframe:
        yield _sse(
            {
                "id": "",
                "object": "",
                "created": 0,
                "model": "",
                "choices": [],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            }
        )
    yield chunk({"role": "assistant", "content": ""})
    if step.unknown_events:
        yield _sse({"type": "fake.heartbeat"}, event="fake.heartbeat")
    frames = [(chunk({"content": p}), True) for p in _pieces(step.text() or "", step.chunks)]
    for i, (cid, call) in enumerate(zip(_call_ids(step), step.tool_calls, strict=True)):
        head = {
            "index": i,
            "id": cid,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        frames.append((chunk({"tool_calls": [head]}), False))
        frames += [
            (chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]}), True)
            for frag in _fragments(call.arguments, step.argument_fragment_chars)
        ]
    if (yield from _paced(step, frames)):  # dropped or ended by the script
        return
    if step.usage_in_finish:
        choice = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": _finish(step)}
        yield _sse({**base, "choices": [choice], "usage": _usage(step)})
    else:
        yield chunk({}, _finish(step))
        if include_usage:
            yield _sse({**base, "choices": [], "usage": _usage(step)})
    if step.send_done:
        yield b"data: [DONE]\n\n"


def _openai_error(status: int, message: str) -> dict[str, Any]:
    kinds = {
        400: ("invalid_request_error", None),
        401: ("invalid_request_error", "invalid_api_key"),
        403: ("permission_error", None),
        404: ("invalid_request_error", "model_not_found"),
        429: ("rate_limit_error", "rate_limit_exceeded"),
    }
    kind, code = kinds.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


# -- Anthropic wire ------------------------------------------------------------------
def _anthropic_usage(step: Reply) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": step.prompt_tokens,
        "output_tokens": step.completion_tokens,
    }
    if step.cached_tokens is not None or step.cache_write_tokens is not None:
        usage["cache_read_input_tokens"] = step.cached_tokens or 0
        usage["cache_creation_input_tokens"] = step.cache_write_tokens or 0
    return usage


def _anthropic_stop(step: Reply) -> str:
    mapping = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
    return mapping.get(_finish(step), _finish(step))


def _anthropic_message(step: Reply, served: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if step.text():
        content.append({"type": "text", "text": step.text()})
    for cid, call in zip(_call_ids(step), step.tool_calls, strict=True):
        content.append(
            {
                "type": "tool_use",
                "id": cid.replace("call_", "toolu_"),
                "name": call.name,
                "input": json.loads(call.arguments or "{}"),
            }
        )
    return {
        "id": "msg_fake_1",
        "type": "message",
        "role": "assistant",
        "model": served,
        "content": content,
        "stop_reason": _anthropic_stop(step),
        "stop_sequence": None,
        "usage": _anthropic_usage(step),
    }


def _anthropic_frames(step: Reply, served: str) -> Iterator[Frame]:
    def ev(kind: str, **fields: Any) -> bytes:
        return _sse({"type": kind, **fields}, event=kind)

    start = _anthropic_message(step, served) | {
        "content": [],
        "stop_reason": None,
        "usage": _anthropic_usage(step) | {"output_tokens": 1},
    }
    if step.sse_comments:
        yield b": fake provider stream\n\n"
    yield ev("message_start", message=start)
    if step.unknown_events:
        yield ev("fake_heartbeat")
    frames: list[tuple[bytes, bool]] = []
    index = 0
    if step.text():
        frames.append(
            (ev("content_block_start", index=0, content_block={"type": "text", "text": ""}), False)
        )
        frames += [
            (ev("content_block_delta", index=0, delta={"type": "text_delta", "text": p}), True)
            for p in _pieces(step.text() or "", step.chunks)
        ]
        frames.append((ev("content_block_stop", index=0), False))
        index = 1
    for cid, call in zip(_call_ids(step), step.tool_calls, strict=True):
        block = {
            "type": "tool_use",
            "id": cid.replace("call_", "toolu_"),
            "name": call.name,
            "input": {},
        }
        frames.append((ev("content_block_start", index=index, content_block=block), False))
        frames += [
            (
                ev(
                    "content_block_delta",
                    index=index,
                    delta={"type": "input_json_delta", "partial_json": frag},
                ),
                True,
            )
            for frag in _fragments(call.arguments, step.argument_fragment_chars)
        ]
        frames.append((ev("content_block_stop", index=index), False))
        index += 1
    if (yield from _paced(step, frames)):  # dropped or ended by the script
        return
    yield ev(
        "message_delta",
        delta={"stop_reason": _anthropic_stop(step), "stop_sequence": None},
        usage={"output_tokens": step.completion_tokens},
    )
    yield ev("message_stop")


def _anthropic_error(status: int, message: str) -> dict[str, Any]:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        529: "overloaded_error",
    }
    kind = kinds.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}
