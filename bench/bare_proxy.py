"""The floor for a Python aiohttp LLM proxy: forward, stream, nothing else.

One pooled ClientSession to the upstream; request bodies are read whole; a reply with
a Content-Length is returned whole, anything else (SSE) is streamed chunk by chunk as
it arrives. No auth, no routing, no parsing: what Orca adds is measured against this.
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)
SKIP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


async def forward(request: web.Request) -> web.StreamResponse:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in SKIP}
    url = request.app[UPSTREAM] + request.rel_url.raw_path_qs
    body = await request.read()
    async with request.app[SESSION].request(request.method, url, data=body, headers=headers) as up:
        out = {k: v for k, v in up.headers.items() if k.lower() not in SKIP}
        if up.content_length is not None:
            return web.Response(status=up.status, body=await up.read(), headers=out)
        resp = web.StreamResponse(status=up.status, headers=out)
        await resp.prepare(request)
        async for data in up.content.iter_any():
            await resp.write(data)
        await resp.write_eof()
        return resp


async def open_session(app: web.Application) -> None:
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    app[SESSION] = aiohttp.ClientSession(
        connector=connector, auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)
    )


async def close_session(app: web.Application) -> None:
    await app[SESSION].close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT (no path)")
    args = p.parse_args()
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[UPSTREAM] = args.upstream.rstrip("/")
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app.router.add_route("*", "/{path:.*}", forward)
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        backlog=2048,
        handler_cancellation=True,
        shutdown_timeout=1.0,
    )


if __name__ == "__main__":
    main()
