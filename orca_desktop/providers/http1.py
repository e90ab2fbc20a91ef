"""A lean HTTP/1.1 client for calls to providers: keep-alive pools per origin.

Why not aiohttp's `ClientSession`: on the gateway's hot path it was the largest
single cost we controlled (a request object, a writer task, a response object
with its stream reader, cookie and redirect handling, about a quarter of the
gateway's CPU per request under load). Providers' APIs need far less: a POST or
GET with a bytes body, and an answer framed by Content-Length, chunked
encoding or the connection's end, usually as identity (we ask for it) and
else gzip or deflate. That is all this module does:

- `HttpClient.request` writes the request head and body in one write, then
  returns a `Response` once the answer's head has arrived;
- a `Response` is read whole (`read`, `read_at_most`) or chunk by chunk as the
  bytes arrive (`async for chunk in response`), with flow control: reading
  from the socket pauses while a slow client leaves too much unread;
- `release` puts a fully read keep-alive connection back into the pool, `close`
  drops it (which also stops a provider generating for a client that left);
- a pooled connection the server closed while idle is retried once on a
  fresh one, only when not a byte of an answer came back.

No proxies, cookies or redirects (the gateway used none of them). Failures
are `UpstreamError`, a `ConnectionError`, so callers handle them with OSError.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

__all__ = ["HttpClient", "Response", "Target", "UpstreamError", "encode_headers"]

_MAX_HEAD: Final = 64 * 1024
_MAX_LINE: Final = 4096
_HIGH_WATER: Final = 256 * 1024
"""Unread answer bytes above which the socket stops being read (a slow client)."""
_KEEPALIVE_S: Final = 60.0

# body framing
_LENGTH: Final = 0
_CHUNKED: Final = 1
_TO_CLOSE: Final = 2
# chunked decoder states
_SIZE: Final = 0
_DATA: Final = 1
_DATA_END: Final = 2
_TRAILER: Final = 3


class UpstreamError(ConnectionError):
    """A provider could not be reached, or its answer broke off or was malformed."""


class _Stale(UpstreamError):
    """A reused connection closed before any answer byte: safe to try a fresh one."""


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed URL, made once per endpoint (never per request)."""

    scheme: str
    host: str
    port: int
    path: bytes
    """Path and query as sent in the request line."""
    host_header: bytes

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        if port != default:
            shown = f"{shown}:{port}"
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        return cls(parts.scheme, host, port, path.encode("ascii"), shown.encode("idna"))

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header.decode()}{self.path.decode()}"


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """`headers` as the lines of a request head (built once per provider and key).

    Raises ValueError for a value with a line break or outside Latin-1, which could
    otherwise split the request (a key pasted with a newline, say).
    """
    lines = []
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name} contains a line break")
        lines.append(f"{name}: {value}\r\n")
    try:
        return "".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("a header value has characters HTTP headers cannot carry") from None


class Response:
    """An answer whose head has arrived; its body is read from the connection."""

    __slots__ = ("_conn", "headers", "reason", "status")

    def __init__(
        self, conn: _Connection, status: int, reason: str, headers: dict[str, str]
    ) -> None:
        self._conn: _Connection | None = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        """Lower-case names; a repeated header's values joined by ", "."""

    @property
    def complete(self) -> bool:
        """True once the whole body has arrived (it may still be unread)."""
        conn = self._conn
        return conn is None or conn.body_done

    def __aiter__(self) -> Response:
        return self

    async def __anext__(self) -> bytes:
        """The body bytes that arrived since the last call, as soon as there are any."""
        conn = self._conn
        if conn is None:
            raise StopAsyncIteration
        while True:
            if conn.body:
                return conn.take()
            if conn.error is not None:
                raise conn.error
            if conn.body_done:
                raise StopAsyncIteration
            await conn.wait()

    async def read(self) -> bytes:
        """The whole (rest of the) body."""
        parts = [chunk async for chunk in self]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def read_at_most(self, limit: int) -> bytes:
        """Up to `limit` bytes of the body (an error answer's, say); the rest is left."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self:
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
        return b"".join(parts)[:limit]

    def release(self) -> None:
        """Done with the answer: its connection goes back to the pool if it can be reused."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.finished()

    def close(self) -> None:
        """Drop the connection (the rest of the answer is not wanted)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class _Connection(asyncio.Protocol):
    """One socket to a provider and the parser of the answers it carries, one at a time."""

    def __init__(self, pool: list[_Connection], loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self.lost = False
        self.reusable = False
        self.got_bytes = False
        self.head_waiter: asyncio.Future[Response] | None = None
        self._head = bytearray()
        self.in_body = False
        self.framing = _LENGTH
        self.remaining = 0
        self.chunk_state = _SIZE
        self.partial = b""  # an unfinished chunk-size or trailer line
        self.keep_alive = True
        self.decoder: zlib._Decompress | None = None
        self.body: list[bytes] = []
        self.body_size = 0
        self.body_done = False
        self.error: UpstreamError | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        if self.in_body:
            self._body_bytes(data)
            return
        if self.head_waiter is None:
            # bytes nobody asked for (after a complete answer): the connection is unusable
            self.keep_alive = False
            self._shut()
            return
        self._head += data
        self._parse_head()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost reports what it meant

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.keep_alive = False
        if self in self.pool:
            self.pool.remove(self)
        waiter = self.head_waiter
        if waiter is not None:
            self.head_waiter = None
            if not waiter.done():
                kind = _Stale if not self.got_bytes and self.reusable else UpstreamError
                waiter.set_exception(kind(_closed("before answering", exc)))
            return
        if self.in_body and not self.body_done:
            if self.framing == _TO_CLOSE and exc is None:
                self._finish_body()
            else:
                self.error = UpstreamError(_closed("in the middle of the answer", exc))
                self._wake()

    def pause_writing(self) -> None:  # request bodies are written whole; nothing to pause
        pass

    def resume_writing(self) -> None:
        pass

    # -- one request ----------------------------------------------------------------

    def send(self, data: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.head_waiter = waiter = self.loop.create_future()
        self.got_bytes = False
        self.in_body = False
        self.body_done = False
        self.error = None
        self.decoder = None
        self.body = []
        self.body_size = 0
        self.transport.write(data)
        return waiter

    def _parse_head(self) -> None:
        buf = self._head
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._fail_head("answered with a header block over 64 KiB")
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            try:
                version, status, reason, headers = _parse_head(head)
            except ValueError as exc:
                self._fail_head(f"sent a malformed answer ({exc})")
                return
            if 100 <= status < 200 and status != 101:
                continue  # 100 Continue and other interim answers
            break
        rest = bytes(buf)
        buf.clear()
        connection = headers.get("connection", "").lower()
        self.keep_alive = (
            "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        )
        try:
            self._frame(status, headers)
        except ValueError as exc:
            self._fail_head(f"sent a malformed answer ({exc})")
            return
        waiter, self.head_waiter = self.head_waiter, None
        self.in_body = True
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self, status, reason, headers))
        if rest:
            self._body_bytes(rest)

    def _frame(self, status: int, headers: dict[str, str]) -> None:
        coding = headers.get("content-encoding", "identity").lower().strip()
        if coding == "gzip" or coding == "x-gzip":
            self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self.decoder = zlib.decompressobj()
        elif coding not in ("identity", ""):
            raise ValueError(f"content-encoding {coding!r} is not supported")
        if status in (204, 304):
            self.framing, self.remaining = _LENGTH, 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self.framing, self.chunk_state, self.partial = _CHUNKED, _SIZE, b""
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise ValueError(f"Content-Length {length[:20]!r}")
            self.framing, self.remaining = _LENGTH, int(length)
        else:
            self.framing, self.keep_alive = _TO_CLOSE, False
        if self.framing == _LENGTH and self.remaining == 0:
            self._finish_body()

    def _fail_head(self, message: str) -> None:
        waiter, self.head_waiter = self.head_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(UpstreamError(message))
        self.keep_alive = False
        self._shut()

    # -- the body -----------------------------------------------------------------

    def _body_bytes(self, data: bytes) -> None:
        if self.body_done:
            self.keep_alive = False  # more than the framing announced
            return
        framing = self.framing
        if framing == _CHUNKED:
            self._chunked(data)
        elif framing == _LENGTH:
            remaining = self.remaining
            if len(data) >= remaining:
                if len(data) > remaining:
                    self.keep_alive = False
                    data = data[:remaining]
                self.remaining = 0
                self._push(data)
                self._finish_body()
            else:
                self.remaining = remaining - len(data)
                self._push(data)
        else:
            self._push(data)

    def _chunked(self, data: bytes) -> None:
        if self.partial:
            data = self.partial + data
            self.partial = b""
        pos, end = 0, len(data)
        while pos < end:
            state = self.chunk_state
            if state == _DATA:
                stop = pos + self.remaining
                piece = data[pos:stop]
                self._push(piece)
                pos += len(piece)
                self.remaining -= len(piece)
                if not self.remaining:
                    self.chunk_state = _DATA_END
            elif state == _DATA_END:
                if end - pos < 2:
                    self.partial = data[pos:]
                    return
                if data[pos : pos + 2] != b"\r\n":
                    return self._broken("a chunk did not end with CRLF")
                pos += 2
                self.chunk_state = _SIZE
            else:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    if end - pos > _MAX_LINE:
                        return self._broken("a chunk header line is too long")
                    self.partial = data[pos:]
                    return
                line = data[pos:eol]
                pos = eol + 2
                if state == _TRAILER:
                    if not line:
                        if pos < end:
                            self.keep_alive = False
                        self._finish_body()
                        return
                    continue
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    return self._broken(f"bad chunk size {size_text[:20]!r}")
                if size < 0:
                    return self._broken("negative chunk size")
                if size:
                    self.remaining = size
                    self.chunk_state = _DATA
                else:
                    self.chunk_state = _TRAILER

    def _broken(self, message: str) -> None:
        self.error = UpstreamError(f"sent a malformed answer ({message})")
        self.keep_alive = False
        self._wake()
        self._shut()

    def _push(self, data: bytes) -> None:
        decoder = self.decoder
        if decoder is not None:
            try:
                data = decoder.decompress(data)
            except zlib.error as exc:
                return self._broken(f"compressed body: {exc}")
        if data:
            self.body.append(data)
            self.body_size += len(data)
            if self.body_size > _HIGH_WATER and not self.paused and self.transport is not None:
                self.paused = True
                self.transport.pause_reading()
            self._wake()

    def _finish_body(self) -> None:
        if self.decoder is not None:
            try:
                tail = self.decoder.flush()
            except zlib.error as exc:
                return self._broken(f"compressed body: {exc}")
            if tail:
                self.body.append(tail)
                self.body_size += len(tail)
        self.body_done = True
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        self.waiter = waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self.waiter = None

    def take(self) -> bytes:
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        self.body = []
        self.body_size = 0
        if self.paused and self.transport is not None and not self.lost:
            self.paused = False
            self.transport.resume_reading()
        return data

    # -- after the answer ---------------------------------------------------------

    def finished(self) -> None:
        """The caller is done: back to the pool when fully read and reusable."""
        if self.keep_alive and self.body_done and not self.body and not self.lost:
            self.in_body = False
            self.reusable = True
            self.idle_since = time.monotonic()
            self.pool.append(self)
        else:
            self.close()

    def close(self) -> None:
        self.keep_alive = False
        self._shut()

    def _shut(self) -> None:
        if self in self.pool:
            self.pool.remove(self)
        if self.transport is not None:
            self.transport.close()


class HttpClient:
    """Keep-alive connection pools, one per (scheme, host, port); no limit on their size."""

    def __init__(
        self,
        connect_timeout_s: float,
        keepalive_s: float = _KEEPALIVE_S,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls` replaces the system's default verifying context (tests use their own CA)."""
        self._connect_timeout_s = connect_timeout_s
        self._keepalive_s = keepalive_s
        self._pools: dict[tuple[str, str, int], list[_Connection]] = {}
        self._ssl = tls
        self._closed = False

    async def request(
        self, method: str, target: Target, headers: bytes, body: bytes = b""
    ) -> Response:
        """Send one request; returns once the answer's head arrived (the body follows).

        `headers` come from `encode_headers`; Host and Content-Length are added here.
        Raises UpstreamError when the provider cannot be reached or answers garbage.
        """
        if self._closed:
            raise UpstreamError("the client is closed")
        length = b"Content-Length: %d\r\n" % len(body) if body or method != "GET" else b""
        data = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n%s" % (
            method.encode("ascii"),
            target.path,
            target.host_header,
            length,
            headers,
            body,
        )
        conn = self._pooled(target)
        while True:
            if conn is None:
                conn = await self._connect(target)
            try:
                return await conn.send(data)
            except _Stale:
                conn = None  # the server closed it while idle: once more on a new one
            except BaseException:
                conn.close()  # cancelled (a timeout), or a broken answer
                raise

    def _pooled(self, target: Target) -> _Connection | None:
        pool = self._pools.get(target.origin)
        if not pool:
            return None
        oldest = time.monotonic() - self._keepalive_s
        while pool:
            conn = pool.pop()
            if not conn.lost and conn.idle_since > oldest:
                return conn
            conn.close()
        return None

    async def _connect(self, target: Target) -> _Connection:
        loop = asyncio.get_running_loop()
        pool = self._pools.setdefault(target.origin, [])
        tls = self._tls() if target.scheme == "https" else None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(pool, loop),
                    target.host,
                    target.port,
                    ssl=tls,
                    server_hostname=target.host if tls is not None else None,
                    happy_eyeballs_delay=0.25,
                )
        except TimeoutError:
            raise UpstreamError(
                f"no connection to {target.host}:{target.port} within {self._connect_timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise UpstreamError(
                f"cannot connect to {target.host}:{target.port}: {exc.strerror or exc}"
            ) from None
        return conn

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def close(self) -> None:
        """Close every pooled connection (answers still being read keep theirs)."""
        self._closed = True
        for pool in self._pools.values():
            for conn in list(pool):
                conn.close()
        self._pools.clear()
        await asyncio.sleep(0)  # let the transports run their close callbacks


def _parse_head(head: bytes) -> tuple[str, int, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ValueError(f"status line {lines[0][:40]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"header line {line[:40]!r}")
        name = name.lower()
        value = value.strip()
        if name in headers:
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    return version, int(code), reason, headers


def _closed(when: str, exc: BaseException | None) -> str:
    detail = f": {exc}" if exc is not None and str(exc) else ""
    return f"the provider closed the connection {when}{detail}"
