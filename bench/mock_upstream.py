"""The benchmark's upstream: a deterministic OpenAI-compatible provider in its own process.

Every answer to the same request is the same bytes, built once and cached: tokens
`tok00 `, `tok01 `, ... (the load generator times TTFT on `tok00`), fixed ids and
timestamps, `model` echoing the request. A stream is a role chunk carrying the first
token, one chunk per further token `--interval-ms` apart, a finish chunk, a usage chunk
when `stream_options.include_usage` is set, and `data: [DONE]`.

A model whose id contains `hold` streams slowly instead: the first token at once, then
one token every `--hold-interval-s` for up to `--hold-s` seconds. The benchmark uses it to
keep many streams open through a proxy and read the proxy's memory.

Only ever listens on 127.0.0.1. Not part of the test suite; never imports orca_desktop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from aiohttp import web

CREATED = 1767225600
STATS = web.AppKey("stats", dict)
FRAMES = web.AppKey("frames", dict)
SETTINGS = web.AppKey("settings", argparse.Namespace)


def _data(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def tokens(count: int) -> list[str]:
    return [f"tok{i:02d} " for i in range(count)]


def build_frames(model: str, count: int, usage: bool) -> list[bytes]:
    """[head, token 1, ..., token n-1, tail]; the head carries the role and token 0."""
    base = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_bench",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _data(
            base
            | {"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        )

    words = tokens(count)
    head = chunk({"role": "assistant", "content": ""}) + chunk({"content": words[0]})
    tail = chunk({}, "stop")
    if usage:
        tail += _data(
            base
            | {
                "choices": [],
                "usage": {
                    "prompt_tokens": 12,
                    "completion_tokens": count,
                    "total_tokens": 12 + count,
                },
            }
        )
    return [head, *(chunk({"content": w}) for w in words[1:]), tail + b"data: [DONE]\n\n"]


def build_json(model: str, count: int) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {
                        "role": "assistant",
                        "content": "".join(tokens(count)),
                        "refusal": None,
                    },
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": count, "total_tokens": 12 + count},
        },
        separators=(",", ":"),
    ).encode()


async def chat(request: web.Request) -> web.StreamResponse:
    opts, stats, cache = request.app[SETTINGS], request.app[STATS], request.app[FRAMES]
    body = await request.json()
    model = str(body.get("model", "mock-gpt"))
    stream = body.get("stream") is True
    usage = stream and bool((body.get("stream_options") or {}).get("include_usage"))
    hold = "hold" in model
    stats["stream" if stream else "json"] += 1
    count = int(opts.hold_s / opts.hold_interval_s) + 1 if hold else opts.chunks
    key = (model, stream, usage)
    if key not in cache:
        cache[key] = build_frames(model, count, usage) if stream else build_json(model, count)
    if not stream:
        return web.Response(body=cache[key], content_type="application/json")
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    interval = opts.hold_interval_s if hold else opts.interval_ms / 1000
    frames = cache[key]
    try:
        await resp.write(frames[0])
        for frame in frames[1:-1]:
            await asyncio.sleep(interval)
            await resp.write(frame)
        await resp.write(frames[-1])
        await resp.write_eof()
    except ConnectionResetError:
        stats["client_gone"] += 1
    return resp


async def models(request: web.Request) -> web.Response:
    data = [
        {"id": m, "object": "model", "created": CREATED, "owned_by": "bench"}
        for m in ("mock-gpt", "mock-hold")
    ]
    return web.json_response({"object": "list", "data": data})


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def stats_view(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS])


def make_app(opts: argparse.Namespace) -> web.Application:
    app = web.Application()
    app[SETTINGS] = opts
    app[STATS] = {"json": 0, "stream": 0, "client_gone": 0}
    app[FRAMES] = {}
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/stats", stats_view)
    return app


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--chunks", type=int, default=50, help="tokens per reply (default 50)")
    p.add_argument("--interval-ms", type=float, default=1.0, help="between stream chunks")
    p.add_argument("--hold-s", type=float, default=120.0, help="length of a `hold` stream")
    p.add_argument("--hold-interval-s", type=float, default=1.0)
    opts = p.parse_args()
    if opts.chunks < 1:
        p.error("--chunks must be at least 1")
    web.run_app(
        make_app(opts),
        host="127.0.0.1",
        port=opts.port,
        access_log=None,
        print=None,
        backlog=2048,
        shutdown_timeout=1.0,
    )


if __name__ == "__main__":
    main()
