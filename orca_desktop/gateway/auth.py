"""The gate in front of every endpoint: loopback Host, Origin allowlist, local token.

`Gate.refusal` is called by the hot handlers themselves and `Gate.guard` wraps
every other route (there is no middleware; `gateway/server.py` wires both, and
a test walks every route to check that none is left open).

A refusal is an error in the endpoint's own shape (OpenAI's, or Anthropic's on
`/v1/messages`), never a 500. Tokens are compared in constant time. Liveness
checks (`GET /healthz`, `HEAD /`) need no token and reveal nothing else.

A page whose Origin is in `[server] allowed_origins` can really call the
gateway from a browser: its CORS preflight is answered (without the token,
which browsers never send on one) and the answers carry the CORS headers
that let it read them and Orca's `X-Orca-*` headers. Other pages get 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from orca_desktop.wire.errors import anthropic_error_body, openai_error_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})
# PRODUCT.md: `GET /healthz` and `HEAD /` (and HEAD of /healthz, which is its GET without
# a body) need no token; everything else does, `GET /` included.
_LIVENESS = frozenset({("GET", "/healthz"), ("HEAD", "/healthz"), ("HEAD", "/")})
_HEADER_LIST = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*")
_EXPOSED = ", ".join(
    (
        "X-Orca-Request-Id",
        "X-Orca-Overhead-Ms",
        "X-Orca-BYOK",
        "X-Orca-Provider",
        "X-Orca-Model",
        "X-Orca-Route",
        "X-Orca-Route-Reason",
        "Retry-After",
    )
)


def normal_origins(origins: Iterable[str]) -> frozenset[str]:
    """`[server] allowed_origins` as browsers send them: no trailing slash, lower case."""
    return frozenset(o.strip().rstrip("/").lower() for o in origins if o.strip())


@dataclass(slots=True)
class Gate:
    """Settings of the gate; `token` is read per request so a rotated token applies at once."""

    token: Callable[[], bytes]
    allowed_origins: frozenset[str]
    bind_host: str
    on_refused: Callable[[], None] = lambda: None
    """Called for each request refused for its token (they are only counted)."""
    _host_ok: dict[str, bool] = field(default_factory=dict)

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return True  # HTTP/1.0 clients may omit Host; nothing to rebind
        cached = self._host_ok.get(host_header)
        if cached is None:
            cached = _is_loopback_host(_strip_port(host_header)) or (
                _strip_port(host_header) == self.bind_host
            )
            if len(self._host_ok) < 256:
                self._host_ok[host_header] = cached
        return cached

    def token_ok(self, request: web.Request) -> bool:
        presented = _presented_token(request)
        if presented is None:
            return False
        return hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), self.token())

    def refusal(self, request: web.Request) -> web.Response | None:
        """The error answer for a request the gate stops, else None.

        A plain call, not a middleware: the chat and messages handlers ask it first
        thing, which saves aiohttp's two middleware layers on every request;
        every other route is wrapped by `guard`.
        """
        headers = request.headers
        if not self.host_allowed(headers.get("Host")):
            return error_response(
                request,
                403,
                "Host header is not a loopback name or address; Orca Desktop only answers "
                "requests addressed to localhost (DNS rebinding protection)",
                code="forbidden_host",
            )
        origin = headers.get("Origin")
        if origin is not None and origin not in self.allowed_origins:
            return error_response(
                request,
                403,
                f"Origin {origin!r} is not allowed; add it to [server] allowed_origins "
                "in the config to let that web page call Orca Desktop",
                code="forbidden_origin",
            )
        if origin is not None and request.method == "OPTIONS":
            preflight = self.preflight(request, origin)
            if preflight is not None:
                return preflight
        if (request.method, request.path) not in _LIVENESS and not self.token_ok(request):
            self.on_refused()
            return error_response(
                request,
                401,
                "missing or wrong local access token: send `Authorization: Bearer <token>` "
                "or `x-api-key: <token>`; `orca-desktop token` prints it",
                code="invalid_api_key",
            )
        return None

    def preflight(self, request: web.Request, origin: str) -> web.Response | None:
        """The answer to a browser's CORS preflight from an allowed page, else None.

        Browsers send no credentials on a preflight, so it is answered without the
        token; the request that follows still needs it.
        """
        method = request.headers.get("Access-Control-Request-Method")
        if method is None:
            return None
        asked = request.headers.get("Access-Control-Request-Headers", "")
        allowed = asked if _HEADER_LIST.fullmatch(asked) else "authorization, content-type"
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "GET, POST, HEAD, OPTIONS",
                "Access-Control-Allow-Headers": allowed,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )

    def cors_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Let an allowed page read the answer and Orca's headers (CORS); others get none."""
        origin = request.headers.get("Origin")
        if origin is not None and origin in self.allowed_origins:
            headers = response.headers
            if "Access-Control-Allow-Origin" not in headers:
                headers["Access-Control-Allow-Origin"] = origin
                headers["Access-Control-Expose-Headers"] = _EXPOSED
                headers.add("Vary", "Origin")

    def guard(self, handler: Handler) -> Handler:
        """`handler` behind the gate, with aiohttp's HTTP errors (a 413 from reading
        the body, say) answered in the endpoint's error shape."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            refused = self.refusal(request)
            if refused is not None:
                return refused
            try:
                return await handler(request)
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                return error_response(request, exc.status, _http_message(exc, request))

        return guarded


def _strip_port(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _is_loopback_host(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _presented_token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    api_key = request.headers.get("x-api-key")
    return api_key.strip() if api_key else None


def error_response(
    request: web.Request,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
) -> web.Response:
    """An error in the shape the endpoint's clients parse."""
    if request.path.startswith("/v1/messages"):
        body = anthropic_error_body(status, message)
    else:
        body = openai_error_body(status, message, param=param, code=code)
    return web.Response(status=status, body=body, content_type="application/json")


def _http_message(exc: web.HTTPException, request: web.Request) -> str:
    if exc.status == 404:
        return f"no such endpoint: {request.method} {request.path}"
    if exc.status == 405:
        return f"method {request.method} is not allowed on {request.path}"
    if exc.status == 413:
        return "request body is too large"
    return exc.reason
