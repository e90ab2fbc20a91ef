"""The aiohttp application and its listener.

`build_app` wires routes and the gate; `GatewayServer` owns the AppRunner and
the TCP site, and can move to another port without dropping the app (a new
site starts before the old one stops).
"""

from __future__ import annotations

import logging
import socket

from aiohttp import web

from orca_desktop.gateway import headers as H
from orca_desktop.gateway.auth import Gate, make_gate_middleware
from orca_desktop.gateway.chat import handle_chat
from orca_desktop.gateway.context import CONTEXT, GatewayContext, new_request_id
from orca_desktop.gateway.messages import handle_count_tokens, handle_messages
from orca_desktop.gateway.models import handle_models

log = logging.getLogger(__name__)


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every response carries X-Orca-Request-Id; routed answers set their own first."""
    if H.REQUEST_ID not in response.headers:
        response.headers[H.REQUEST_ID] = new_request_id()


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _root(request: web.Request) -> web.Response:
    return web.Response(text="Orca Desktop\n")


def build_app(ctx: GatewayContext, gate: Gate) -> web.Application:
    """The gateway's aiohttp application (local API routes are added by the caller)."""
    # the body limit is enforced by the handlers (413 in the endpoint's error shape);
    # aiohttp's own limit is a backstop one byte above it
    limit = int(ctx.config.server.max_body_mb * 1024 * 1024) + 1
    app = web.Application(
        middlewares=[make_gate_middleware(gate)],
        client_max_size=limit,
        handler_args={"max_field_size": 65536},
    )
    app[CONTEXT] = ctx
    app.on_response_prepare.append(_stamp_request_id)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/", _root)
    app.router.add_post("/v1/chat/completions", handle_chat)
    app.router.add_post("/v1/messages", handle_messages)
    app.router.add_post("/v1/messages/count_tokens", handle_count_tokens)
    app.router.add_get("/v1/models", handle_models)
    return app


class GatewayServer:
    """The listening socket; `start`, `move_to(port)`, `stop`."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=5.0
        )
        self._site: web.BaseSite | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    async def start(self) -> int:
        await self._runner.setup()
        self._site = await self._bind(self.port)
        return self.port

    async def _bind(self, port: int) -> web.BaseSite:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, port))
        except OSError:
            sock.close()
            raise
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.port = sock.getsockname()[1]
        return site

    async def move_to(self, port: int) -> None:
        """Listen on `port` instead; the old site stops only once the new one listens."""
        old = self._site
        self._site = await self._bind(port)
        if old is not None:
            await old.stop()

    async def stop(self) -> None:
        await self._runner.cleanup()
        self._site = None
