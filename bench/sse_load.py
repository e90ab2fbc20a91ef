"""Closed-loop HTTP load for the benchmark: SSE streams (or plain POSTs), one JSON line out.

`run`: --concurrency workers, each on its own keep-alive connection, send the same POST
again and again for --duration seconds. Per request: TTFB (first body byte), TTFT
(first body byte containing --marker, the mock's first token) and total (last byte).
Errors: non-200, a stream without `[DONE]` at its end, timeouts, dropped connections.

`hold`: open --streams streams at once (to a slow upstream model), print `READY n` when
each has its first token, keep them open --hold-s seconds, close them, print JSON.

The client is a small asyncio.Protocol with its own HTTP/1.1 response reader (status,
Content-Length or chunked), so a worker costs a few microseconds per chunk and the
generator takes little of the CPU it shares with the mock. Loopback targets only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from typing import Any
from urllib.parse import urlsplit


class Exchange(asyncio.Protocol):
    """One keep-alive connection; `send` starts a request, its future ends with the reply."""

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.done: asyncio.Future[float] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish(ConnectionError("connection closed"))

    def send(self, request: bytes) -> asyncio.Future[float]:
        assert self.transport is not None
        self.head = b""
        self.in_body = False
        self.status = 0
        self.remaining = -1  # Content-Length left; -1 when chunked
        self.skip = 0  # chunk bytes (+CRLF) still to pass over
        self.line = b""  # a chunk-size line split across reads
        self.last_chunk = False
        self.keep_alive = True
        self.ttfb: float | None = None
        self.ttft: float | None = None
        self.tail = b""
        self.done = asyncio.get_running_loop().create_future()
        self.t0 = time.perf_counter()
        self.transport.write(request)
        return self.done

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self._read_head(self.head[:end].decode("latin-1"))
            data = self.head[end + 4 :]
            self.in_body = True
            if not data and self.remaining != 0:
                return
        if data and self.ttfb is None:
            self.ttfb = now - self.t0
        if self.ttft is None and self.marker in self.tail[-16:] + data:
            self.ttft = now - self.t0
        self.tail = (self.tail + data)[-64:]
        if self._body_complete(data):
            if not self.keep_alive and self.transport is not None:
                self.transport.close()
            self._finish(now - self.t0)

    def _read_head(self, head: str) -> None:
        lines = head.split("\r\n")
        self.status = int(lines[0].split(" ", 2)[1])
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                self.remaining = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "connection":
                self.keep_alive = value != "close"
        if chunked:
            self.remaining = -1
        elif self.remaining < 0:  # read to close
            self.keep_alive = False
            self.remaining = 1 << 62

    def _body_complete(self, data: bytes) -> bool:
        if self.remaining >= 0:
            self.remaining -= len(data)
            return self.remaining <= 0
        pos, size = 0, len(data)
        while pos < size:
            if self.skip:
                step = min(self.skip, size - pos)
                pos += step
                self.skip -= step
                continue
            nl = data.find(b"\n", pos)
            if nl < 0:
                self.line += data[pos:]
                return False
            line, self.line, pos = (self.line + data[pos:nl]).strip(), b"", nl + 1
            if self.last_chunk:
                if not line:
                    return True
                continue  # a trailer field
            length = int(line.split(b";", 1)[0], 16)
            if length == 0:
                self.last_chunk = True
            else:
                self.skip = length + 2
        return False

    def _finish(self, result: float | Exception) -> None:
        if self.done is None or self.done.done():
            return
        if isinstance(result, Exception):
            self.done.set_exception(result)
        else:
            self.done.set_result(result)


def build_request(url: str, body: bytes, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing a non-loopback target: {parts.hostname}")
    host, port = parts.hostname, parts.port or 80
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Accept: text/event-stream, application/json",
        *headers,
    ]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def summary(values: list[float]) -> dict[str, float] | None:
    """Percentiles in microseconds (nearest-rank)."""
    if not values:
        return None
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1e6

    return {
        "n": len(ordered),
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "max": ordered[-1] * 1e6,
        "mean": sum(ordered) / len(ordered) * 1e6,
    }


async def run(args: argparse.Namespace, host: str, port: int, request: bytes) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    marker, stream = args.marker.encode(), args.mode == "stream"
    totals: list[float] = []
    ttfbs: list[float] = []
    ttfts: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + args.duration

    def error(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def connect() -> Exchange | None:
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: Exchange(marker), host, port), args.timeout
            )
        except (OSError, TimeoutError) as exc:
            error(f"connect {type(exc).__name__}")
            await asyncio.sleep(0.05)
            return None
        return conn

    async def worker() -> None:
        conn: Exchange | None = None
        while time.perf_counter() < deadline:
            if conn is None or conn.closed:
                conn = await connect()
                if conn is None:
                    continue
            try:
                total = await asyncio.wait_for(conn.send(request), args.timeout)
            except (ConnectionError, TimeoutError) as exc:
                error(type(exc).__name__)
                if conn.transport is not None:
                    conn.transport.close()
                conn = None
                continue
            if conn.status != 200:
                error(f"status {conn.status}")
            elif stream and b"[DONE]" not in conn.tail:
                error("no [DONE]")
            else:
                totals.append(total)
                if conn.ttfb is not None:
                    ttfbs.append(conn.ttfb)
                if conn.ttft is not None:
                    ttfts.append(conn.ttft)
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "mode": args.mode,
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "ok": len(totals),
        "rps": len(totals) / elapsed,
        "errors": errors,
        "total_us": summary(totals),
        "ttfb_us": summary(ttfbs),
        "ttft_us": summary(ttfts),
    }


async def hold(args: argparse.Namespace, host: str, port: int, request: bytes) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    marker = args.marker.encode()
    gate = asyncio.Semaphore(64)  # connection attempts in flight; a burst of 1000 SYNs is noise
    conns: list[Exchange] = []
    errors: dict[str, int] = {}

    async def open_one() -> None:
        async with gate:
            try:
                _, conn = await asyncio.wait_for(
                    loop.create_connection(lambda: Exchange(marker), host, port), args.timeout
                )
            except (OSError, TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            conns.append(conn)
            conn.send(request).add_done_callback(lambda f: f.exception())
        started = time.perf_counter()
        while conn.ttft is None and not conn.closed:
            if time.perf_counter() - started > args.timeout:
                errors["no first token"] = errors.get("no first token", 0) + 1
                return
            await asyncio.sleep(0.05)

    started = time.perf_counter()
    await asyncio.gather(*(open_one() for _ in range(args.streams)))
    opened = sum(1 for c in conns if c.ttft is not None and not c.closed)
    print(f"READY {opened} {time.perf_counter() - started:.3f}", flush=True)
    await asyncio.sleep(args.hold_s)
    still_open = sum(1 for c in conns if not c.closed)
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    await asyncio.sleep(0.2)
    return {
        "mode": "hold",
        "requested": args.streams,
        "opened": opened,
        "still_open": still_open,
        "errors": errors,
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("action", choices=("run", "hold"))
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True, help="the JSON request body")
    p.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    p.add_argument("--mode", choices=("stream", "plain"), default="stream")
    p.add_argument("-c", "--concurrency", type=int, default=1)
    p.add_argument("-d", "--duration", type=float, default=4.0)
    p.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    p.add_argument("--marker", default="tok00", help="the first token's text (TTFT)")
    p.add_argument("--streams", type=int, default=1000, help="hold: streams to open")
    p.add_argument("--hold-s", type=float, default=3.0, help="hold: seconds to keep them open")
    args = p.parse_args()
    host, port, request = build_request(args.url, args.body.encode(), args.header)
    action = run if args.action == "run" else hold
    result = asyncio.run(action(args, host, port, request))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
