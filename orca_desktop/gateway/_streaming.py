"""The stream leg of an exchange: first output, pumping, and how a stream ends.

Functions of the `Exchange` (gateway/exchange.py) they serve, kept apart so
the engine reads in one screen: a failure before the first byte went to the
client is an `UpstreamFailure` (the next candidate is tried); after it, the
stream ends with the dialect filter's error tail, the record says 502 and the
provider/model pair cools down. Dialect-agnostic: the filter (a `StreamFilter`)
is the only part that knows the wire format.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orca_desktop.gateway import _deadline
from orca_desktop.gateway.upstream import (
    StreamFilter,
    UpstreamFailure,
    describe,
    error_text,
)
from orca_desktop.providers.http1 import Response as UpstreamResponse
from orca_desktop.routing.router import Candidate

if TYPE_CHECKING:
    from orca_desktop.gateway.exchange import Exchange, Leg

__all__ = ["client_gone", "stream_from"]


async def stream_from(
    ex: Exchange, cand: Candidate, leg: Leg, keep_usage: bool, started: int
) -> web.StreamResponse:
    server = ex.ctx.config.server
    cleaner = ex._stream_filter(cand, leg, keep_usage)
    resp: UpstreamResponse | None = None
    complete = False
    try:
        with _deadline.timeout(server.first_byte_timeout_s):
            resp = await ex._open(cand, leg)
            first = await _first_output(ex, resp, cleaner, cand)
        ready = time.perf_counter_ns()
        ex.upstream_wait_ns += ready - started
        response = web.StreamResponse(status=200, headers=ex._route_headers(cand))
        await response.prepare(ex.request)
        await response.write(first)
        ex.first_byte_ns = time.perf_counter_ns()
        ex.ctx.latency.observe_ttft(cand.via, cand.upstream_model, (ready - started) / 1e6)
        ex.served = cand
        ex.record.status = 200
        complete = await _pump(ex, resp, response, cleaner, cand)
        _stream_served(ex, cand, started, cleaner)
        return response
    except TimeoutError:
        if ex.first_byte_ns is None:
            raise UpstreamFailure(
                0, f"{cand.via} sent nothing within {server.first_byte_timeout_s:g} s"
            ) from None
        raise
    except asyncio.CancelledError:
        if ex.first_byte_ns is not None:  # the client left mid-stream: say who served
            _stream_served(ex, cand, started, cleaner)
        raise
    except OSError:
        # upstream faults became UpstreamFailure or an error frame already; this is
        # a write to a client that went away
        if not client_gone(ex.request):
            raise
        ex.record.status, ex.record.error = 499, "client disconnected"
        return web.Response(status=499)
    finally:
        if resp is not None:
            # keep the pooled connection after a complete stream; otherwise close it,
            # which is what stops the upstream generating for a client that left
            resp.release() if complete else resp.close()


def _stream_served(ex: Exchange, cand: Candidate, started: int, cleaner: StreamFilter) -> None:
    """The attempt of a stream that reached the client, ended or left mid-way."""
    ex._attempt_ok(
        cand, started, time.perf_counter_ns(), cleaner.usage, cleaner.model, ex._stream_error
    )


async def _first_output(
    ex: Exchange, resp: UpstreamResponse, cleaner: StreamFilter, cand: Candidate
) -> bytes:
    """Read until the cleaner has bytes for the client; failures here can still fall back.

    Nothing is held back once it is ready (issue #5: chunks pass through as they
    arrive), so the first frame, usually the role-only opening, is the first byte:
    a provider that drops the stream after it ends that stream with an error frame.
    """
    try:
        async for chunk in resp:
            out = cleaner.feed(chunk)
            if out:
                if cleaner.error is not None and not cleaner.first_content:
                    # "200, then an error event" is a failure the client has not
                    # seen yet: the next candidate can still answer
                    raise _error_event(ex, cand, cleaner.error)
                if cleaner.error is not None:  # content, then an error, in one read
                    out = ex._without_key(cand.via, out)
                return out
    except OSError as exc:
        raise UpstreamFailure(
            0, f"{cand.via} dropped the stream before the first byte: {describe(exc)}"
        ) from None
    tail = cleaner.flush()  # the last frame, when it came without its blank line
    if cleaner.error is not None:
        raise _error_event(ex, cand, cleaner.error)
    if cleaner.complete:
        return tail + cleaner.finish()  # a complete answer without content
    if tail:
        raise UpstreamFailure(502, f"{cand.via} {_ENDED_EARLY}")
    raise UpstreamFailure(502, f"{cand.via} ended the stream without any data")


def _error_event(ex: Exchange, cand: Candidate, error: Any) -> UpstreamFailure:
    """A stream that opened with an error event: a failure the next candidate can
    still answer for (its text may quote the key, which is blanked)."""
    message = f"{cand.via} sent an error event: {error_text(error)}"
    return UpstreamFailure(502, ex._without_key_text(cand.via, message))


async def _pump(
    ex: Exchange,
    resp: UpstreamResponse,
    response: web.StreamResponse,
    cleaner: StreamFilter,
    cand: Candidate,
) -> bool:
    """Move the rest of the stream; an upstream fault ends it with an error frame.

    Returns True when the upstream's response ended normally (its connection can
    be reused), even when the answer in it was cut short or an error.
    """
    idle = ex.ctx.config.server.idle_timeout_s
    try:
        with _deadline.idle_timeout(idle) as deadline:
            async for chunk in resp:
                t = time.perf_counter_ns()
                out = cleaner.feed(chunk)
                ex.chunk_work_ns += time.perf_counter_ns() - t
                if out:
                    if cleaner.error is not None:  # a provider's error frame may echo the key
                        out = ex._without_key(cand.via, out)
                    await response.write(out)
                deadline.touch()
        tail = _end_of_stream(ex, cleaner, cand)
        if tail and cleaner.error is not None:
            tail = ex._without_key(cand.via, tail)
        complete = True
    except TimeoutError:
        complete = False
        tail = _stream_fault(ex, cleaner, cand, f"{cand.via} stalled for {idle:g} s mid-stream")
    except OSError as exc:
        complete = False
        if client_gone(ex.request):
            ex.record.status, ex.record.error = 499, "client disconnected"
            return False
        tail = _stream_fault(ex, cleaner, cand, f"{cand.via} dropped the stream: {describe(exc)}")
    if tail:
        await response.write(tail)
    await response.write_eof()
    return complete


def _end_of_stream(ex: Exchange, cleaner: StreamFilter, cand: Candidate) -> bytes:
    """The tail of a stream whose upstream response ended normally.

    It closes cleanly only when the answer did: a provider that stopped before
    [DONE] or a finish (or inside a frame) gets an error frame, never a
    clean-looking truncation; a provider's own error event already reached the
    client, so it is only recorded. Either is a fault, like a dropped stream.
    """
    tail = cleaner.flush()
    error = cleaner.error
    if error is not None:
        _fault(ex, cand, f"{cand.via} sent an error mid-stream: {_error_summary(error)}")
        return tail + cleaner.finish()
    if cleaner.complete:
        return tail + cleaner.finish()
    return tail + _stream_fault(ex, cleaner, cand, f"{cand.via} {_ENDED_EARLY}")


def _stream_fault(ex: Exchange, cleaner: StreamFilter, cand: Candidate, message: str) -> bytes:
    """A failure after the first byte: recorded, and an error frame for the client."""
    return cleaner.error_tail(_fault(ex, cand, message))


def _fault(ex: Exchange, cand: Candidate, message: str) -> str:
    """Record a failure after the first byte as a 5xx (502, cool-down); returns the
    message as recorded, with the provider's key blanked out."""
    message = ex._without_key_text(cand.via, message)
    ex._stream_error = ex.record.error = message
    ex.record.status = 502
    ex.ctx.cooldowns.failed(cand.via, cand.upstream_model, status=502, retry_after_s=None)
    return message


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _error_summary(error: Any) -> str:
    """A provider's error object in a few words: its type, when it names one, and message."""
    kind = error.get("type") if isinstance(error, dict) else None
    text = error_text(error)
    if not isinstance(kind, str) or kind in ("", _NO_TYPE) or kind in text:
        return text
    return f"{kind}: {text}"


_ENDED_EARLY = "ended the stream before the answer was complete"
_NO_TYPE = "upstream_error"  # what the stream cleaner calls an error that named no type
