"""Demo mode: simulated providers, priced like real models, on an in-process loopback server.

`orca-desktop --demo` / `serve --demo` use these instead of the configured
providers so a new user sees routing live with no keys and no network. The
demo server speaks the OpenAI chat-completions API, so demo requests take the
gateway's real path end to end. Everything here is labelled "demo".
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from typing import Any

import orjson
from aiohttp import web

from orca_desktop.config import Config, ModelConfig, ProviderConfig

# (model id, demo provider, input $/Mtok, output $/Mtok, context, capabilities, speed chunks/s)
_MODELS: tuple[tuple[str, str, float, float, int, tuple[str, ...], float], ...] = (
    ("demo-gpt-4o", "demo-openai", 2.50, 10.00, 128_000, ("tools", "vision", "json_schema"), 80),
    (
        "demo-gpt-4o-mini",
        "demo-openai",
        0.15,
        0.60,
        128_000,
        ("tools", "vision", "json_schema"),
        120,
    ),
    (
        "demo-o4-mini",
        "demo-openai",
        1.10,
        4.40,
        200_000,
        ("tools", "vision", "json_schema", "reasoning"),
        60,
    ),
    (
        "demo-claude-sonnet",
        "demo-anthropic",
        3.00,
        15.00,
        200_000,
        ("tools", "vision", "reasoning"),
        70,
    ),
    ("demo-claude-haiku", "demo-anthropic", 1.00, 5.00, 200_000, ("tools", "vision"), 140),
    ("demo-deepseek-chat", "demo-deepseek", 0.27, 1.10, 64_000, ("tools", "json_schema"), 50),
    (
        "demo-gemini-flash",
        "demo-google",
        0.10,
        0.40,
        1_000_000,
        ("tools", "vision", "json_schema"),
        160,
    ),
)
DEMO_PROVIDERS = {
    "demo-openai": "Demo OpenAI (simulated)",
    "demo-anthropic": "Demo Anthropic (simulated)",
    "demo-deepseek": "Demo DeepSeek (simulated)",
    "demo-google": "Demo Google (simulated)",
}
DEMO_REFERENCE = "demo-gpt-4o"

_WORDS = (
    "Routing",
    "picks",
    "the",
    "cheapest",
    "model",
    "that",
    "can",
    "do",
    "this",
    "job,",
    "and",
    "Orca",
    "shows",
    "you",
    "why.",
    "This",
    "answer",
    "is",
    "simulated:",
    "demo",
    "mode",
)


def demo_config(base: Config, base_url: str) -> Config:
    """`base` with its providers and models replaced by the demo ones served at `base_url`."""
    providers = {pid: ProviderConfig(kind="demo", base_url=base_url) for pid in DEMO_PROVIDERS}
    for pid in providers:
        providers[pid].models = [m[0] for m in _MODELS if m[1] == pid]
    models = [
        ModelConfig(
            id=mid,
            provider=pid,
            input_price=inp,
            output_price=out,
            context_window=ctx,
            max_output_tokens=16_384,
            capabilities=list(caps),
        )
        for mid, pid, inp, out, ctx, caps, _ in _MODELS
    ]
    cfg = base.model_copy(deep=True)
    cfg.providers = providers
    cfg.models = models
    cfg.routers = {}
    cfg.routing = cfg.routing.model_copy(update={"reference_model": DEMO_REFERENCE})
    return cfg


class DemoUpstream:
    """A tiny OpenAI-compatible server with simulated latency, tokens and the odd failure."""

    def __init__(self, *, failure_rate: float = 0.03, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._failure_rate = failure_rate
        self._ids = itertools.count(1)
        self._speed = {m[0]: m[6] for m in _MODELS}
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        self.base_url = ""

    async def start(self) -> str:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def close(self) -> None:
        await self._runner.cleanup()

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": m[0], "object": "model", "created": 0, "owned_by": m[1]} for m in _MODELS]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body.get("model", "demo"))
        if self._rng.random() < self._failure_rate:
            await asyncio.sleep(0.05)
            return web.json_response(
                {"error": {"message": "simulated overload (demo)", "type": "server_error"}},
                status=503,
            )
        prompt_tokens = max(8, len(orjson.dumps(body.get("messages", []))) // 4)
        words = [self._rng.choice(_WORDS) for _ in range(self._rng.randint(12, 40))]
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        created = int(time.time())
        cid = f"chatcmpl-demo-{next(self._ids)}"
        await asyncio.sleep(self._rng.uniform(0.08, 0.35))  # time to first token
        if body.get("stream") is not True:
            return web.json_response(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": " ".join(words)},
                        }
                    ],
                    "usage": usage,
                }
            )
        return await self._stream(request, cid, created, model, words, usage, body)

    async def _stream(
        self,
        request: web.Request,
        cid: str,
        created: int,
        model: str,
        words: list[str],
        usage: dict[str, int],
        body: dict[str, Any],
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        delay = 1.0 / self._speed.get(model, 80)

        def frame(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return b"data: " + orjson.dumps(chunk) + b"\n\n"

        await resp.write(frame({"role": "assistant", "content": ""}))
        for i, word in enumerate(words):
            await resp.write(frame({"content": word if i == 0 else " " + word}))
            await asyncio.sleep(delay)
        await resp.write(frame({}, "stop"))
        options = body.get("stream_options") or {}
        if options.get("include_usage"):
            tail = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            await resp.write(b"data: " + orjson.dumps(tail) + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
