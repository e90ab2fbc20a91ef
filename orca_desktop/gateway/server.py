"""The aiohttp application and its listener.

`build_app` wires routes and the gate; `GatewayServer` owns the AppRunner and
the TCP site, and can move to another port without dropping the app (a new
site starts before the old one stops).

There is no middleware: the chat and messages handlers ask the gate first
thing (one coroutine layer per request instead of three), every other route
is wrapped by `Gate.guard`, and a last catch-all route answers unknown paths
(404) and wrong methods (405) in OpenAI's or Anthropic's error shape, behind
the gate too.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from orca_desktop.gateway import headers as H
from orca_desktop.gateway.auth import Gate, Handler, error_response
from orca_desktop.gateway.chat import CHAT
from orca_desktop.gateway.codec import Codec
from orca_desktop.gateway.context import CONTEXT, GatewayContext, new_request_id
from orca_desktop.gateway.exchange import Exchange
from orca_desktop.gateway.local_api import LocalApiDeps, add_local_api
from orca_desktop.gateway.messages import MESSAGES, handle_count_tokens
from orca_desktop.gateway.models import handle_models

log = logging.getLogger(__name__)


def _response_stamp(gate: Gate) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """The `on_response_prepare` hook: headers every answer gets, errors and 500s included.

    Every response carries X-Orca-Request-Id (routed answers set their own first);
    an allowed page's answers carry CORS headers; aiohttp's `Server: Python/…
    aiohttp/…` is dropped: the liveness checks must reveal nothing but that the
    gateway is up, and no answer needs to name our versions.
    """
    cors = bool(gate.allowed_origins)

    async def stamp(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        if H.REQUEST_ID not in headers:
            headers[H.REQUEST_ID] = new_request_id()
        headers.popall("Server", None)
        if cors:
            gate.cors_headers(request, response)

    return stamp


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _root(request: web.Request) -> web.Response:
    return web.Response(text="Orca Desktop\n")


def build_app(
    ctx: GatewayContext, gate: Gate, local: LocalApiDeps | None = None
) -> web.Application:
    """The gateway's aiohttp application, with the local API when `local` is given."""
    # the body limit is enforced by the handlers (413 in the endpoint's error shape);
    # aiohttp's own limit is a backstop one byte above it
    limit = int(ctx.config.server.max_body_mb * 1024 * 1024) + 1
    app = web.Application(client_max_size=limit, handler_args={"max_field_size": 65536})
    app[CONTEXT] = ctx
    app.on_response_prepare.append(_response_stamp(gate))
    routes = app.router
    routes.add_get("/healthz", gate.guard(_healthz))
    routes.add_get("/", gate.guard(_root))
    routes.add_post("/v1/chat/completions", _exchange(gate, CHAT))
    routes.add_post("/v1/messages", _exchange(gate, MESSAGES))
    routes.add_post("/v1/messages/count_tokens", gate.guard(handle_count_tokens))
    routes.add_get("/v1/models", gate.guard(handle_models))
    if local is not None:
        add_local_api(app, local, guard=gate.guard)
    routes.add_route("*", "/{tail:.*}", gate.guard(_no_route(app)))  # last: it matches all
    return app


def _exchange(gate: Gate, codec: Codec) -> Handler:
    """The handler of a routed endpoint: the gate's check, then one exchange in the
    endpoint's dialect."""

    async def handle(request: web.Request) -> web.StreamResponse:
        refused = gate.refusal(request)
        if refused is not None:
            return refused
        return await Exchange(request.app[CONTEXT], request, codec).run()

    return handle


def _no_route(app: web.Application) -> Handler:
    """404 for a path no route has; 405 (with Allow) for a method a path lacks."""
    allowed: dict[str, set[str]] = {}

    async def no_route(request: web.Request) -> web.Response:
        if not allowed:
            for route in app.router.routes():
                path = route.resource.canonical if route.resource is not None else ""
                if route.method != "*":
                    allowed.setdefault(path, set()).add(route.method)
        methods = allowed.get(request.path)
        if not methods:
            return error_response(
                request, 404, f"no such endpoint: {request.method} {request.path}"
            )
        response = error_response(
            request, 405, f"method {request.method} is not allowed on {request.path}"
        )
        response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    return no_route


class _RequestHandler(RequestHandler):
    """aiohttp's connection handler, with its own error answers in our shape.

    aiohttp answers a request it cannot parse (a header over 8 KiB, a broken
    request line) and an unhandled exception itself, in text/plain and before
    any route or signal: no X-Orca-Request-Id, no JSON. Those answers go
    through here. The message is ours, never aiohttp's, which may quote the
    offending bytes (a header value, a token).
    """

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; refuses if sent already
        if status >= 500:
            text = "internal error in Orca Desktop; its log has the details"
        else:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = str(status)
            text = (
                f"malformed HTTP request ({phrase}): the request line or a header "
                "could not be read (each header is limited to 8 KiB)"
            )
        shaped = error_response(cast(web.Request, request), status, text)
        response = _Unsigned(
            status=status,
            body=shaped.body,
            content_type="application/json",
            headers={H.REQUEST_ID: new_request_id()},
        )
        response.force_close()
        return response


class _Unsigned(web.Response):
    """A response without aiohttp's `Server` header, for answers no signal sees."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall("Server", None)


class _Server(Server):
    def __call__(self) -> RequestHandler:
        return _RequestHandler(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same object, handing out our connection handler
        return server


class GatewayServer:
    """The listening socket; `start`, `move_to(port)`, `stop`."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._runner = _Runner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=5.0
        )
        self._site: web.BaseSite | None = None

    @property
    def app(self) -> web.Application:
        return self._runner.app

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
