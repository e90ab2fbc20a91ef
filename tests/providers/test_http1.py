"""The provider HTTP client against real sockets: a scripted raw server on 127.0.0.1.

Each test server reads one request head (and its Content-Length body) at a time
and answers with the exact bytes the test scripted, so framings that aiohttp's
server would never produce (chunk extensions, trailers, interim answers, a
close in mid-body) are exercised for real. The parser is also fed every split
of an answer's bytes, as a slow network may deliver them.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
import pytest_asyncio

from orca_desktop.config import ServerConfig
from orca_desktop.keystore import Secret
from orca_desktop.providers.base import ProviderSpec
from orca_desktop.providers.http1 import (
    HttpClient,
    Target,
    UpstreamError,
    _Connection,
    encode_headers,
)
from orca_desktop.providers.openai_compat import OpenAICompatProvider

Script = Callable[[int, bytes], list[bytes | float | None]]
"""(request number, request bytes) -> what to send: bytes, a pause in seconds, or
None to close the connection."""


@dataclass
class RawServer:
    script: Script
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                for step in self.script(len(self.requests), head + body):
                    if step is None:
                        writer.close()
                        return
                    if isinstance(step, float):
                        await asyncio.sleep(step)
                        continue
                    writer.write(step)
                    await writer.drain()
        finally:
            writer.close()

    def url(self, path: str = "/v1/chat/completions") -> Target:
        return Target.parse(f"http://127.0.0.1:{self.port}{path}")


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[[Script], RawServer]]:
    servers: list[asyncio.Server] = []

    async def make(script: Script) -> RawServer:
        raw = RawServer(script)
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        raw.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return raw

    yield make  # type: ignore[misc]
    for server in servers:
        server.close()


async def fetch(client: HttpClient, server: RawServer) -> bytes:
    """POST to `server` and read the whole answer, giving the connection back."""
    resp = await client.request("POST", server.url(), HEADERS, b"{}")
    try:
        return await resp.read()
    finally:
        resp.release()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def chunked(*pieces: bytes, trailer: bytes = b"") -> bytes:
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for piece in pieces:
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n" + trailer + b"\r\n"


HEADERS = encode_headers({"Content-Type": "application/json"})


@pytest.mark.asyncio
async def test_content_length_answer_and_the_connection_is_reused(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(lambda n, req: [ok(b'{"n":%d}' % n, b"X-Thing: a\r\nX-Thing: b\r\n")])
    client = HttpClient(5.0)
    for n in (1, 2, 3):
        resp = await client.request("POST", server.url(), HEADERS, b'{"hi":1}')
        assert resp.status == 200
        assert resp.headers["x-thing"] == "a, b"
        assert await resp.read() == b'{"n":%d}' % n
        resp.release()
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:%d\r\n" % server.port in first
    assert b"\r\nContent-Length: 8\r\n" in first
    assert first.endswith(b'\r\n\r\n{"hi":1}')
    await client.close()


@pytest.mark.asyncio
async def test_chunked_with_extensions_and_trailers_arrives_as_sent(serve) -> None:  # type: ignore[no-untyped-def]
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"6\r\n world\r\n"
        b"0\r\nX-Trailer: yes\r\n\r\n"
    )
    server = await serve(lambda n, req: [answer[:7], 0.01, answer[7:30], 0.01, answer[30:]])
    client = HttpClient(5.0)
    for _ in range(2):
        assert await fetch(client, server) == b"hello world"
    assert server.connections == 1  # the trailer ended the answer: reusable
    await client.close()


@pytest.mark.asyncio
async def test_stream_chunks_reach_the_reader_as_they_arrive(serve) -> None:  # type: ignore[no-untyped-def]
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

    def script(n: int, req: bytes) -> list[bytes | float | None]:
        return [head + b"3\r\none\r\n", 0.3, b"3\r\ntwo\r\n0\r\n\r\n"]

    server = await serve(script)
    client = HttpClient(5.0)
    resp = await client.request("POST", server.url(), HEADERS, b"{}")
    seen = []
    async for chunk in resp:
        seen.append(chunk)
        if len(seen) == 1:
            # the first piece came before the server's pause ended
            assert not resp.complete
    assert seen == [b"one", b"two"]
    resp.release()
    await client.close()


@pytest.mark.asyncio
async def test_every_split_of_the_bytes_parses_the_same() -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"9\r\ndata: 1\n\n\r\n"
        b"A;x=1\r\ndata: 23\n\n\r\n"
        b"0\r\nT: 1\r\n\r\n"
    )
    loop = asyncio.get_running_loop()
    for cut in range(1, len(answer)):
        for second in (cut, min(len(answer), cut + 3)):
            conn = _Connection([], loop)
            conn.connection_made(_NullTransport())  # type: ignore[arg-type]
            waiter = conn.send(b"")
            for piece in (answer[:cut], answer[cut:second], answer[second:]):
                if piece:
                    conn.data_received(piece)
            resp = waiter.result()
            assert resp.status == 200, cut
            assert resp.headers["content-type"] == "text/event-stream"
            assert conn.error is None, (cut, conn.error)
            assert resp.complete, cut
            assert await resp.read() == b"data: 1\n\ndata: 23\n\n", cut


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.mark.asyncio
async def test_a_gzip_answer_is_decoded(serve) -> None:  # type: ignore[no-untyped-def]
    packed = gzip.compress(b'{"ok":true}' * 100)
    server = await serve(lambda n, req: [ok(packed, b"Content-Encoding: gzip\r\n")])
    client = HttpClient(5.0)
    resp = await client.request("POST", server.url(), HEADERS, b"{}")
    assert await resp.read() == b'{"ok":true}' * 100
    resp.release()
    await client.close()


@pytest.mark.asyncio
async def test_an_answer_read_to_the_close_is_whole_and_not_reused(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(
        lambda n, req: [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart one,", b" two", None]
    )
    client = HttpClient(5.0)
    for _ in range(2):
        assert await fetch(client, server) == b"part one, two"
    assert server.connections == 2
    await client.close()


@pytest.mark.asyncio
async def test_an_idle_connection_the_server_closed_is_replaced_once(serve) -> None:  # type: ignore[no-untyped-def]
    # the server answers, then closes the kept-alive connection while it is idle
    server = await serve(lambda n, req: [ok(b"fine"), 0.05, None])
    client = HttpClient(5.0)
    assert await fetch(client, server) == b"fine"
    await asyncio.sleep(0.2)  # the close arrived: the pooled connection knows
    assert await fetch(client, server) == b"fine"
    assert server.connections == 2
    await client.close()


@pytest.mark.asyncio
async def test_a_reused_connection_closed_unannounced_is_retried_on_a_new_one(serve) -> None:  # type: ignore[no-untyped-def]
    # the server says keep-alive but drops the connection when the second request comes
    def script(n: int, req: bytes) -> list[bytes | float | None]:
        return [ok(b"first")] if n == 1 else ([None] if n == 2 else [ok(b"third")])

    server = await serve(script)
    client = HttpClient(5.0)
    assert await fetch(client, server) == b"first"
    assert await fetch(client, server) == b"third"
    assert server.connections == 2
    assert len(server.requests) == 3
    await client.close()


@pytest.mark.asyncio
async def test_a_fresh_connection_closed_before_answering_is_an_error(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(lambda n, req: [None])
    client = HttpClient(5.0)
    with pytest.raises(UpstreamError, match="closed the connection before answering"):
        await client.request("POST", server.url(), HEADERS, b"{}")
    assert len(server.requests) == 1  # never sent twice
    await client.close()


@pytest.mark.asyncio
async def test_a_close_in_mid_body_is_an_error_on_read(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(
        lambda n, req: [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some", 0.05, None]
    )
    client = HttpClient(5.0)
    resp = await client.request("POST", server.url(), HEADERS, b"{}")
    with pytest.raises(UpstreamError, match="in the middle of the answer"):
        await resp.read()
    resp.release()
    await client.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (b"SMTP ready\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx", "br"),
    ],
)
async def test_a_malformed_head_is_a_clear_error(serve, answer: bytes, match: str) -> None:  # type: ignore[no-untyped-def]
    server = await serve(lambda n, req: [answer])
    client = HttpClient(5.0)
    with pytest.raises(UpstreamError, match=match):
        await client.request("POST", server.url(), HEADERS, b"{}")
    await client.close()


@pytest.mark.asyncio
async def test_a_bad_chunk_size_is_an_error_on_read(serve) -> None:  # type: ignore[no-untyped-def]
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = await serve(lambda n, req: [head + b"3\r\nabc\r\nzz\r\n"])
    client = HttpClient(5.0)
    resp = await client.request("POST", server.url(), HEADERS, b"{}")
    with pytest.raises(UpstreamError, match="bad chunk size"):
        async for _ in resp:
            pass
    resp.close()
    await client.close()


@pytest.mark.asyncio
async def test_a_slow_reader_pauses_the_socket_and_still_gets_every_byte(serve) -> None:  # type: ignore[no-untyped-def]
    big = bytes(range(256)) * 8192  # 2 MiB
    server = await serve(lambda n, req: [ok(big)])
    client = HttpClient(5.0)
    resp = await client.request("POST", server.url(), HEADERS, b"{}")
    await asyncio.sleep(0.3)  # let the answer pile up unread
    conn = resp._conn
    assert conn is not None and conn.paused
    assert conn.body_size < len(big)
    assert await resp.read() == big
    resp.release()
    await client.close()


@pytest.mark.asyncio
async def test_cancelled_while_waiting_drops_the_connection(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(lambda n, req: [0.5, ok(b"late")] if n == 1 else [ok(b"next")])
    client = HttpClient(5.0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await client.request("POST", server.url(), HEADERS, b"{}")
    resp = await client.request("POST", server.url(), HEADERS, b"{}")
    assert await resp.read() == b"next"  # not the late answer to the first request
    resp.release()
    assert server.connections == 2
    await client.close()


@pytest.mark.asyncio
async def test_no_body_answers_end_at_once(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(lambda n, req: [b"HTTP/1.1 204 No Content\r\n\r\n"])
    client = HttpClient(5.0)
    resp = await client.request("GET", server.url("/v1/models"), b"")
    assert resp.status == 204 and resp.complete
    assert await resp.read() == b""
    resp.release()
    assert server.requests[0].startswith(b"GET /v1/models HTTP/1.1\r\n")
    assert b"Content-Length" not in server.requests[0]
    await client.close()


@pytest.mark.asyncio
async def test_an_unreachable_provider_is_an_upstream_error() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    client = HttpClient(2.0)
    with pytest.raises(UpstreamError, match=f"cannot connect to 127.0.0.1:{port}"):
        await client.request("POST", Target.parse(f"http://127.0.0.1:{port}/x"), b"", b"{}")
    await client.close()


def test_targets_keep_path_query_and_default_ports() -> None:
    t = Target.parse("https://api.example.com/v1/chat/completions?x=1")
    assert (t.scheme, t.host, t.port) == ("https", "api.example.com", 443)
    assert t.path == b"/v1/chat/completions?x=1"
    assert t.host_header == b"api.example.com"
    assert str(Target.parse("http://[::1]:8080/v1")) == "http://[::1]:8080/v1"
    with pytest.raises(ValueError, match="not an http"):
        Target.parse("ftp://x/y")


def test_header_values_cannot_split_the_request() -> None:
    assert encode_headers({"A": "b"}) == b"A: b\r\n"
    with pytest.raises(ValueError, match="line break"):
        encode_headers({"Authorization": "Bearer sk-1\r\nX-Evil: 1"})


@pytest.mark.asyncio
async def test_a_key_with_a_line_break_fails_without_showing_it(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(lambda n, req: [ok(b"{}")])
    spec = ProviderSpec(
        id="p",
        label="P",
        kind="openai-compatible",
        base_url=f"http://127.0.0.1:{server.port}/v1",
        keyless=False,
        hosted_router=False,
        configured=True,
    )
    provider = OpenAICompatProvider(spec, ServerConfig())
    with pytest.raises(UpstreamError) as caught:
        await provider.send_chat(b"{}", Secret("sk-secret-1\nX-Evil: 1"))
    assert "sk-secret" not in str(caught.value)
    assert "line break" in str(caught.value)
    assert server.requests == []
    await provider.close()


def _self_signed() -> tuple[bytes, bytes]:
    """A certificate for 127.0.0.1 and its key, PEM (cryptography is a keyring dependency
    on Linux, through SecretStorage)."""
    import datetime
    import ipaddress

    pytest.importorskip("cryptography")

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orca-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.mark.asyncio
async def test_https_is_verified_and_works_with_a_trusted_certificate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import ssl

    cert, key = _self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    raw = RawServer(lambda n, req: [ok(b"secure")])
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    target = Target.parse(f"https://127.0.0.1:{port}/v1/chat/completions")
    try:
        # the system's trust store does not know this certificate: refused
        client = HttpClient(5.0)
        with pytest.raises(UpstreamError, match="CERTIFICATE_VERIFY_FAILED|certificate verify"):
            await client.request("POST", target, HEADERS, b"{}")
        await client.close()
        trusting = ssl.create_default_context(cadata=cert.decode())
        client = HttpClient(5.0, tls=trusting)
        for _ in range(2):
            resp = await client.request("POST", target, HEADERS, b"{}")
            assert await resp.read() == b"secure"
            resp.release()
        assert raw.connections == 1
        await client.close()
    finally:
        server.close()
