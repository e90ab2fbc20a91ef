"""A small capture server for the wire corpus (tests/corpus/).

Run: python -m tests.capture_server OUT_DIR [PORT]. It logs every request
(method, path, query, the headers that matter, JSON body; secrets masked) to
OUT_DIR/NNN.json and answers in the dialect asked: Anthropic SSE/JSON on
/v1/messages, OpenAI chat SSE (with a usage frame) or JSON on /v1/chat/completions.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

KEEP_HEADERS = ("anthropic-version", "anthropic-beta", "user-agent", "content-type")
_counter = itertools.count(1)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def mask(value: Any) -> Any:
    """Device ids, session ids and uuids replaced by placeholders."""
    if isinstance(value, str):
        return _HEX64.sub("<masked-hex>", _UUID.sub("<masked-uuid>", value))
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    return value


def _sse(obj: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(obj)}\n\n".encode()


async def _log(request: web.Request, out: Path) -> Any:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    entry = {
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "headers": {k: request.headers[k] for k in KEEP_HEADERS if k in request.headers},
        "body": mask(body),
    }
    (out / f"{next(_counter):03d}.json").write_text(json.dumps(entry, indent=1))
    return body


def app(out: Path) -> web.Application:
    async def messages(request: web.Request) -> web.StreamResponse:
        body = await _log(request, out)
        model = body.get("model", "m") if isinstance(body, dict) else "m"
        usage = {"input_tokens": 5, "output_tokens": 2}
        if not (isinstance(body, dict) and body.get("stream")):
            return web.json_response(
                {
                    "id": "msg_cap",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": "hi from capture"}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": usage,
                }
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(
            _sse(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_cap",
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": usage,
                    },
                },
                "message_start",
            )
        )
        await resp.write(
            _sse(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
        )
        await resp.write(
            _sse(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "hi from capture"},
                },
                "content_block_delta",
            )
        )
        await resp.write(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        await resp.write(
            _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 2},
                },
                "message_delta",
            )
        )
        await resp.write(_sse({"type": "message_stop"}, "message_stop"))
        await resp.write_eof()
        return resp

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await _log(request, out)
        model = body.get("model", "m") if isinstance(body, dict) else "m"
        usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
        if not (isinstance(body, dict) and body.get("stream")):
            return web.json_response(
                {
                    "id": "chatcmpl-cap",
                    "object": "chat.completion",
                    "created": 1,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "hi from capture"},
                        }
                    ],
                    "usage": usage,
                }
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        base = {
            "id": "chatcmpl-cap",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
        }
        await resp.write(
            _sse(
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": None,
                            "delta": {"role": "assistant", "content": "hi from capture"},
                        }
                    ],
                }
            )
        )
        await resp.write(
            _sse({**base, "choices": [{"index": 0, "finish_reason": "stop", "delta": {}}]})
        )
        await resp.write(_sse({**base, "choices": [], "usage": usage}))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def other(request: web.Request) -> web.StreamResponse:
        await _log(request, out)
        return web.json_response({"data": [], "object": "list"})

    a = web.Application()
    a.router.add_post("/v1/messages", messages)
    a.router.add_post("/v1/chat/completions", chat)
    a.router.add_route("*", "/{tail:.*}", other)
    return a


if __name__ == "__main__":
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    web.run_app(
        app(out_dir), host="127.0.0.1", port=int(sys.argv[2]) if len(sys.argv) > 2 else 8765
    )
