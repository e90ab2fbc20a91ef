"""The exchange engine: one request of any dialect, from body to telemetry record.

One `Exchange` per request, driven by the inbound dialect's sans-I/O codec
(gateway/codec.py). It validates, routes, tries the candidates in order
(fallback and cool-downs), forwards the answer or moves stream bytes through a
sans-I/O filter as they arrive, and accounts and publishes the record — the
same for every dialect. Per candidate it either passes the client's body
through (the provider speaks the client's API: `model` replaced, the client's
bytes forwarded when nothing else changed) or translates it through the
internal chat form and the provider's outbound adapter (gateway/outbound.py),
recording what the translation dropped.

Failures before the first byte reached the client fall back to the next
candidate; after it the stream ends with the dialect's error frame
(gateway/_streaming.py). The upstream call goes out first: the record, the
`RequestReceived` event and the headers' fixed part are made while the
upstream works. Telemetry is published after the last byte, never awaited.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiohttp import web

from orca_desktop.config import RouterConfig
from orca_desktop.events import KeyStatusChanged, RequestFinished, RequestReceived
from orca_desktop.gateway import _deadline
from orca_desktop.gateway import headers as H
from orca_desktop.gateway._streaming import client_gone, stream_from
from orca_desktop.gateway.codec import Codec
from orca_desktop.gateway.context import (
    GatewayContext,
    client_of,
    new_request_id,
    utc_iso,
)
from orca_desktop.gateway.outbound import Outbound, outbound_for
from orca_desktop.gateway.upstream import (
    StreamFilter,
    UpstreamFailure,
    UpstreamRefusal,
    all_failed_status,
    describe,
    retry_after,
    upstream_message,
    usage_from,
)
from orca_desktop.providers.base import Provider
from orca_desktop.providers.http1 import Response as UpstreamResponse
from orca_desktop.routing import AUTO_ALIASES, RoutingError, requirements_of
from orca_desktop.routing.router import ROUTER_PREFIX, Candidate, RouteDecision
from orca_desktop.telemetry.pricing import cost_usd
from orca_desktop.telemetry.record import Attempt, CandidateView, RequestRecord
from orca_desktop.wire.errors import ApiError
from orca_desktop.wire.openai import parse_json_body, without_router_fields

_DEMO_NO_KEY = (
    "demo mode serves only its simulated models (`auto`, or a `demo-…` id from "
    "/v1/models); {model!r} needs a real provider ({why}), which works once you "
    "leave demo mode"
)
_MAX_ERROR_BODY = 64 * 1024
_SHOWN_UNREACHABLE = 3
"""Candidates excluded only for a missing key are many in a big catalog; the record
keeps the cheapest few (they say which key would save money) and drops the rest."""


class Leg:
    """How one candidate is asked: natively, or translated through `outbound`."""

    __slots__ = ("betas", "native", "outbound", "payload", "provider")

    def __init__(
        self,
        provider: Provider,
        payload: bytes,
        outbound: Outbound | None,
        betas: tuple[str, ...] = (),
    ) -> None:
        self.provider = provider
        self.payload = payload
        self.outbound = outbound  # None: native, the client's own API
        self.native = outbound is None
        self.betas = betas


class Exchange:
    """Everything about one request, from body to telemetry record (any dialect)."""

    def __init__(self, ctx: GatewayContext, request: web.Request, codec: Codec) -> None:
        self.ctx = ctx
        self.request = request
        self.codec = codec
        self.endpoint = codec.endpoint
        self.t0 = time.perf_counter_ns()
        self.started = time.time()  # the record's started_at, formatted later
        self.id = new_request_id()
        self.upstream_wait_ns = 0
        self.chunk_work_ns = 0
        self.first_byte_ns: int | None = None
        self.usage: dict[str, Any] | None = None
        self.served: Candidate | None = None
        self.decision: RouteDecision | None = None
        self.route_label = ""  # X-Orca-Route, set by _decide
        self._record: RequestRecord | None = None
        self._received_ns = 0  # monotonic, when the body was found valid (RequestReceived)
        self._settled = False
        self._stream = False
        self._fixed_headers: tuple[Candidate, dict[str, str]] | None = None
        self._stream_error: str | None = None  # why a stream failed after its first byte
        self._body: dict[str, Any] = {}
        self._raw = b""  # the client's bytes, forwarded as they are when nothing changed
        self._chat: dict[str, Any] | None = None  # the internal chat form, made once if needed
        self._dropped: list[str] = []  # what translating to chat dropped
        self._leg: Leg | None = None  # the candidate being asked

    @property
    def record(self) -> RequestRecord:
        """The telemetry record, made on first use (after the upstream call went out)."""
        rec = self._record
        if rec is None:
            rec = self._record = RequestRecord(
                id=self.id,
                started_at=utc_iso(self.started),
                endpoint=self.endpoint,
                client=client_of(self.request.headers.get("User-Agent")),
            )
        return rec

    # -- the whole exchange -------------------------------------------------

    async def run(self) -> web.StreamResponse:
        status = 499  # a CancelledError below means the client went away
        try:
            response = await self._serve()
            status = response.status if self.record.status == 0 else self.record.status
            return response
        except ApiError as exc:
            status = exc.status
            self.record.error = exc.message
            if not self._received_ns:
                self._note_invalid()
            return self._error(exc.status, exc.message, param=exc.param, code=exc.code)
        except asyncio.CancelledError:
            self.record.error = self.record.error or "client disconnected"
            raise
        finally:
            self.record.status = status
            self._publish()

    async def _serve(self) -> web.StreamResponse:
        ctx = self.ctx
        if ctx.paused:
            raise ApiError(
                503,
                "Orca Desktop is paused: resume it from the tray menu or the window",
                code="gateway_paused",
            )
        self._body = body = await self._read_body()
        self.codec.validate(body)
        fallbacks, route, forward = _split_routing_keys(body)
        self._stream = stream = body.get("stream") is True
        self._received_ns = time.monotonic_ns()
        decision = self._decide(body, fallbacks, route)
        keep_usage = self.codec.ask_for_usage(body, forward, stream)
        try:
            return await self._try_chain(decision, forward, stream, keep_usage)
        except UpstreamRefusal as refusal:
            return self._passthrough_error(refusal)

    async def _read_body(self) -> dict[str, Any]:
        max_mb = self.ctx.config.server.max_body_mb
        if (self.request.content_length or 0) > int(max_mb * 1024 * 1024):
            raise _too_large(max_mb)
        try:
            self._raw = raw = await self.request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _too_large(max_mb) from None
        return parse_json_body(raw)

    def _decide(
        self, body: dict[str, Any], fallbacks: list[str], route: str | None
    ) -> RouteDecision:
        try:
            decision = self.ctx.router.decide(
                body["model"],
                fallbacks=fallbacks,
                route=route,
                req=requirements_of(body, raw=self._raw),
                reach=self.ctx.reach,
            )
        except RoutingError as exc:
            self._note_rejection(exc, body["model"], fallbacks, route)
            message = str(exc)
            if exc.status == 424 and self.ctx.demo:
                message = _DEMO_NO_KEY.format(model=body["model"], why=message)
            raise ApiError(exc.status, message, param=exc.param, code=exc.code) from None
        self.decision = decision  # the record's candidate list is made at the end, off the path
        self.route_label = decision.route_label
        return decision

    def _note_rejection(
        self, exc: RoutingError, model: str, fallbacks: list[str], route: str | None
    ) -> None:
        """Keep what the router worked out for a request nothing could serve (the route
        asked for, why, and the candidates it excluded), so the window can show it. An
        unknown model or router (404) names no route."""
        rec = self.record
        if exc.status != 404:
            routers = self.ctx.config.routers
            rec.router, rec.strategy = _route_asked(model, fallbacks, route, routers)
        rec.reason = exc.message
        rec.candidates = _candidate_views(exc.candidates)

    def _note_invalid(self) -> None:
        """A request that failed validation still says which model it asked for."""
        model = self._body.get("model")
        if isinstance(model, str) and model:
            self.record.requested_model = model
        self.record.stream = self._body.get("stream") is True

    def _settle(self) -> None:
        """What the upstream call does not wait for: the record's request fields, the
        `RequestReceived` event (the window's in-flight row) and the first candidate's
        fixed headers. Scheduled to run once the call went out; `_publish` runs it
        too, so it has happened before the record is published. Does nothing for a
        request that never passed validation (it is only announced finished)."""
        if self._settled or not self._received_ns:
            return
        self._settled = True
        rec = self.record
        rec.requested_model = model = self._body["model"]
        rec.stream = self._stream
        self.ctx.hub.publish(
            RequestReceived(rec.id, self._received_ns, self.endpoint, model, rec.client)
        )
        decision = self.decision
        if decision is not None:
            rec.router, rec.strategy, rec.reason = (
                decision.router,
                decision.strategy,
                decision.reason,
            )
            if decision.chain:
                self._headers_of(decision.chain[0])

    # -- attempts -----------------------------------------------------------

    async def _try_chain(
        self, decision: RouteDecision, forward: dict[str, Any], stream: bool, keep_usage: bool
    ) -> web.StreamResponse:
        failures: list[str] = []
        # runs at the first wait, by when the request has been written to the provider
        asyncio.get_running_loop().call_soon(self._settle)
        for cand in decision.chain:
            started = time.perf_counter_ns()
            try:
                leg = self._leg_for(cand, forward)
                if stream:
                    return await stream_from(self, cand, leg, keep_usage, started)
                return await self._json_from(cand, leg, started)
            except UpstreamFailure as failure:
                self._attempt_failed(cand, failure, started)
                failures.append(f"{cand.via}/{cand.model.id}: {failure.message}")
            except UpstreamRefusal as refusal:
                self._attempt_refused(cand, refusal, started)
                raise
        detail = "; ".join(failures) or "no candidate could be tried"
        raise ApiError(
            all_failed_status(self.record.attempts),
            f"every candidate failed: {detail}",
            code="upstream_failed",
        )

    def _leg_for(self, cand: Candidate, forward: dict[str, Any]) -> Leg:
        """How `cand` is asked: the client's body if its provider speaks the client's
        API (the client's own bytes when only `model` could differ and it does not),
        else the internal chat form translated to the provider's API."""
        provider = self.ctx.providers.get(cand.via)
        if provider is None:
            raise UpstreamFailure(0, f"provider {cand.via} is not available")
        if provider.api == self.codec.api:
            forward["model"] = cand.upstream_model
            if forward == self._body and self._raw:
                return Leg(provider, self._raw, None)
            return Leg(provider, orjson.dumps(forward), None)
        if self._chat is None:
            self._chat = self.codec.to_chat(forward, self._dropped)
        outbound = outbound_for(provider.api)
        dropped = list(self._dropped)
        try:
            payload, betas = outbound.request(
                dict(self._chat),
                cand,
                cache=self.ctx.config.routing.anthropic_cache,
                dropped=dropped,
            )
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise UpstreamFailure(
                0, f"cannot translate the request for {cand.via}: {describe(exc)}"
            ) from None
        self.record.dropped = dropped
        return Leg(provider, payload, outbound, betas)

    def _answer_json(
        self, cand: Candidate, leg: Leg, data: dict[str, Any], body: bytes
    ) -> tuple[bytes, Any, Any]:
        """(client body, OpenAI-shaped usage, reported model) for a JSON answer."""
        if leg.outbound is None:
            return body, self.codec.native_usage(data), data.get("model")
        chat = leg.outbound.answer(data, cand.upstream_model)
        model = chat.get("model")
        return self.codec.chat_answer(chat, cand.upstream_model), chat.get("usage"), model

    def _stream_filter(self, cand: Candidate, leg: Leg, keep_usage: bool) -> StreamFilter:
        """The filter between the upstream stream and the client."""
        served = cand.upstream_model
        if leg.outbound is None:
            return self.codec.native_stream(served, keep_usage)
        upstream = leg.outbound.stream(served, self.codec.chat_keeps_usage(keep_usage))
        return self.codec.chat_stream(upstream, served)

    async def _open(self, cand: Candidate, leg: Leg) -> UpstreamResponse:
        """Send the request; return a 200 response or raise UpstreamFailure/UpstreamRefusal."""
        key = self.ctx.keystore.get(cand.via)
        try:
            resp = await leg.provider.send(leg.payload, key, self.request.headers, leg.betas)
        except OSError as exc:
            raise UpstreamFailure(0, f"cannot reach {cand.via}: {describe(exc)}") from None
        if resp.status == 200:
            return resp
        try:
            body = await resp.read_at_most(_MAX_ERROR_BODY)
        except OSError:
            body = b""
        finally:
            resp.release()
        body = self._without_key(cand.via, body)
        status = resp.status
        if status in (401, 403):
            self.ctx.hub.publish(
                KeyStatusChanged(time.monotonic_ns(), cand.via, "rejected", f"HTTP {status}")
            )
        if status in (401, 408, 429) or status >= 500:
            raise UpstreamFailure(
                503 if status == 529 else status,  # Anthropic's "overloaded"
                upstream_message(status, body, cand.via),
                retry_after(resp.headers.get("retry-after")),
            )
        raise UpstreamRefusal(status, body)

    def _without_key_text(self, provider: str, text: str) -> str:
        """`text` with the provider's key blanked out (see `_without_key`)."""
        key = self.ctx.keystore.get(provider)
        if key is None:
            return text
        raw = key.reveal()
        return text.replace(raw, "****") if raw and raw in text else text

    def _without_key(self, provider: str, body: bytes) -> bytes:
        """A provider's error body with the key it was sent blanked out: some echo it
        ("Incorrect API key provided: …"), and the body reaches the client, the
        record and the window."""
        key = self.ctx.keystore.get(provider)
        if key is None:
            return body
        raw = key.reveal().encode()
        return body.replace(raw, b"****") if raw and raw in body else body

    async def _json_from(self, cand: Candidate, leg: Leg, started: int) -> web.StreamResponse:
        server = self.ctx.config.server
        try:
            # one timer for both waits: the head within first_byte_timeout_s, then the
            # body within idle_timeout_s of the head
            with _deadline.timeout(server.first_byte_timeout_s) as deadline:
                resp = await self._open(cand, leg)
                if not resp.complete:  # a body that came with the head needs no wait
                    deadline.reschedule(asyncio.get_running_loop().time() + server.idle_timeout_s)
                try:
                    body = await resp.read()
                finally:
                    resp.release()
            data = orjson.loads(body)
        except TimeoutError:
            raise UpstreamFailure(0, f"{cand.via} timed out") from None
        except OSError as exc:
            raise UpstreamFailure(
                0, f"{cand.via} dropped the connection: {describe(exc)}"
            ) from None
        except orjson.JSONDecodeError:
            raise UpstreamFailure(502, f"{cand.via} answered with invalid JSON") from None
        ready = time.perf_counter_ns()
        self.upstream_wait_ns += ready - started
        if not isinstance(data, dict):
            data = {}
        body, usage, model = self._answer_json(cand, leg, data, body)
        self._attempt_ok(cand, started, ready, usage, model)
        response = web.Response(
            body=body, content_type="application/json", headers=self._route_headers(cand)
        )
        self.record.status = 200
        try:
            await response.prepare(self.request)
            await response.write_eof()
        except OSError:
            if not client_gone(self.request):
                raise
            self.record.status, self.record.error = 499, "client disconnected"
            return response
        self.first_byte_ns = time.perf_counter_ns()
        return response

    # -- bookkeeping ----------------------------------------------------------

    def _route_headers(self, cand: Candidate) -> dict[str, str]:
        """The answer's headers, with the overhead up to now."""
        overhead_ms = (time.perf_counter_ns() - self.t0 - self.upstream_wait_ns) / 1e6
        self.record.overhead_ms = overhead_ms
        headers = self._headers_of(cand)
        headers[H.OVERHEAD_MS] = f"{overhead_ms:.3f}"
        return headers

    def _headers_of(self, cand: Candidate) -> dict[str, str]:
        """The headers that do not depend on time, made once per candidate (aiohttp
        copies them into the response, so the overhead is filled into this dict)."""
        made = self._fixed_headers
        if made is not None and made[0] is cand:
            return made[1]
        reason = self.decision.reason if self.decision is not None else ""
        headers = {
            H.REQUEST_ID: self.id,
            H.OVERHEAD_MS: "",
            H.BYOK: "true" if cand.byok else "false",
            H.PROVIDER: cand.via,
            H.MODEL: cand.upstream_model,
            H.ROUTE: self.route_label,
            H.ROUTE_REASON: _header_safe(reason),
        }
        if self._stream:
            headers["Content-Type"] = "text/event-stream"
            headers["Cache-Control"] = "no-cache"
        self._fixed_headers = (cand, headers)
        return headers

    def _attempt_ok(
        self,
        cand: Candidate,
        started: int,
        ended: int,
        usage: dict[str, Any] | None,
        reported_model: Any,
        error: str | None = None,
    ) -> None:
        """The candidate that answered; `error` when its stream failed after the first
        byte (the attempt is then a 502, and the pair keeps the cool-down `_fault` set).
        What it served is accounted either way."""
        rec = self.record
        status = 200 if error is None else 502
        rec.attempts.append(
            Attempt(cand.model.id, cand.via, status, error, (ended - started) / 1e6)
        )
        rec.provider, rec.byok = cand.via, cand.byok
        rec.model = reported_model if isinstance(reported_model, str) else cand.upstream_model
        rec.upstream_ms = (ended - started) / 1e6
        self.served = cand
        self.usage = usage if isinstance(usage, dict) else None
        if error is None:
            self.ctx.cooldowns.succeeded(cand.via, cand.upstream_model)

    def _attempt_refused(self, cand: Candidate, refusal: UpstreamRefusal, started: int) -> None:
        """A provider's refusal ends the chain: the attempt and who refused are recorded
        (no cool-down: another model would refuse the same request)."""
        now = time.perf_counter_ns()
        self.upstream_wait_ns += now - started
        rec = self.record
        message = upstream_message(refusal.status, refusal.body, cand.via)
        rec.attempts.append(
            Attempt(cand.model.id, cand.via, refusal.status, message, (now - started) / 1e6)
        )
        rec.provider, rec.byok, rec.model = cand.via, cand.byok, cand.upstream_model

    def _attempt_failed(self, cand: Candidate, failure: UpstreamFailure, started: int) -> None:
        now = time.perf_counter_ns()
        self.upstream_wait_ns += now - started
        self.record.attempts.append(
            Attempt(cand.model.id, cand.via, failure.status, failure.message, (now - started) / 1e6)
        )
        self.ctx.cooldowns.failed(
            cand.via,
            cand.upstream_model,
            status=failure.status or 503,
            retry_after_s=failure.retry_after_s,
        )

    def _error(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> web.Response:
        self.record.status = status
        return web.Response(
            status=status,
            body=self.codec.error_body(status, message, param=param, code=code),
            content_type="application/json",
            headers={H.REQUEST_ID: self.id},
        )

    def _passthrough_error(self, refusal: UpstreamRefusal) -> web.Response:
        """A provider's refusal (a 4xx another model would refuse too): its own error in
        this endpoint's shape (the codec's `refusal_body`). The record's message names the provider
        (`_attempt_refused` recorded who refused)."""
        attempts = self.record.attempts
        message = attempts[-1].error if attempts and attempts[-1].error else ""
        self.record.error = message
        try:
            parsed = orjson.loads(refusal.body)
        except orjson.JSONDecodeError:
            parsed = None
        body = self.codec.refusal_body(refusal.status, refusal.body, parsed, message)
        self.record.status = refusal.status
        return web.Response(
            status=refusal.status,
            body=body,
            content_type="application/json",
            headers={H.REQUEST_ID: self.id},
        )

    def _publish(self) -> None:
        self._settle()
        rec = self.record
        end = time.perf_counter_ns()
        rec.duration_ms = (end - self.t0) / 1e6
        if self.first_byte_ns is not None:
            rec.ttft_ms = (self.first_byte_ns - self.t0) / 1e6
        if rec.overhead_ms is not None and self.chunk_work_ns:
            rec.overhead_ms += self.chunk_work_ns / 1e6
        if self.decision is not None:
            rec.candidates = _candidate_views(self.decision.candidates)
        if self.served is not None and self.usage is not None:
            self._account(self.served, self.usage)
        self.ctx.hub.publish(RequestFinished(rec.id, time.monotonic_ns(), rec))

    def _account(self, cand: Candidate, raw: dict[str, Any]) -> None:
        rec = self.record
        usage = usage_from(raw)
        rec.prompt_tokens, rec.completion_tokens = usage.prompt, usage.completion
        rec.cached_tokens, rec.reasoning_tokens = usage.cached, usage.reasoning
        rec.cache_write_tokens = usage.cache_write
        rec.cost_usd = cost_usd(cand.model, usage)
        ref = self.ctx.reference
        if ref is not None:
            rec.reference_model = ref.id
            rec.reference_cost_usd = cost_usd(ref, usage)
            if rec.cost_usd is not None and rec.reference_cost_usd is not None:
                rec.savings_usd = rec.reference_cost_usd - rec.cost_usd


def _split_routing_keys(body: dict[str, Any]) -> tuple[list[str], str | None, dict[str, Any]]:
    """Orca's routing keys (top level or under extra_body) and the body to forward.

    Fallbacks are the top-level `models`, then `extra_body.models` (as
    `ChatRequest.fallbacks`); the top-level `route` wins. Works for both the
    OpenAI and the Anthropic dialect; the forwarded body comes from
    `without_router_fields`, so Orca's own keys never reach a provider.
    """
    extra = body.get("extra_body")
    extra = extra if isinstance(extra, dict) else {}
    models: list[Any] = []
    for names in (body.get("models"), extra.get("models")):
        if isinstance(names, list):
            models.extend(names)
    route = body.get("route")
    route = extra.get("route") if route is None else route
    fallbacks = [m for m in models if isinstance(m, str)]
    return fallbacks, route if isinstance(route, str) else None, dict(without_router_fields(body))


def _too_large(max_mb: float) -> ApiError:
    return ApiError(
        413,
        f"request body is larger than {max_mb:g} MB ([server] max_body_mb)",
        code="request_too_large",
    )


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _candidate_views(candidates: tuple[Candidate, ...]) -> list[CandidateView]:
    views: list[CandidateView] = []
    unreachable = 0
    for c in candidates:
        if c.excluded is not None and c.excluded.startswith("no key"):
            unreachable += 1
            if unreachable > _SHOWN_UNREACHABLE:
                continue
        views.append(CandidateView(c.model.id, c.via, c.estimated_cost_usd, c.excluded))
    return views


def _route_asked(
    model: str, fallbacks: list[str], route: str | None, routers: dict[str, RouterConfig]
) -> tuple[str | None, str | None]:
    """(router, strategy) a request asked for, as `Router.decide` reads the model forms,
    for a request it rejected (RoutingError says why, not which route). An unsupported
    `route` names no strategy."""
    if route is not None and route != "fallback":
        return "request", None
    if fallbacks or route == "fallback":
        return "request", "fallback"
    if model.lower().startswith(ROUTER_PREFIX):
        name = model[len(ROUTER_PREFIX) :]
        named = routers.get(name)
        if named is not None:
            return name, named.strategy
    if model.lower() in AUTO_ALIASES:
        return "auto", "cheapest"
    return "pinned", "direct"


_HEADER_TEXT = str.maketrans(
    {"→": "->", "←": "<-", "—": "-", "–": "-", "…": "...", "×": "x", "\u00a0": " "}
    | {chr(c): " " for c in (*range(32), 127)}
)


def _header_safe(text: str) -> str:
    """`text` as a header value: ASCII, arrows and dashes spelled out, no control
    characters (no CR/LF can split the header); anything else non-ASCII is `?`."""
    if not (text.isascii() and text.isprintable()):
        text = text.translate(_HEADER_TEXT).encode("ascii", "replace").decode("ascii")
    return text[:300]
