"""`orca-desktop tail`: follow the gateway's live feed and print one line per request.

Owns the terminal rendering of a request record (`format_record`) and the
client side of `/orca/v1/events`: connect with the local token, reconnect
with backoff when the gateway restarts, stop with a clear message and a
non-zero exit when the token is refused or no gateway is running. It is a
plain HTTP client of the public local API: it never imports the gateway, and
never prints the token.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

import aiohttp

__all__ = ["events_url", "follow", "format_record", "run_tail"]

_NOT_RUNNING = "is `orca-desktop serve` running?"


def run_tail(url: str, token: str, out: TextIO, err: TextIO | None = None) -> int:
    """Follow the feed until Ctrl-C (exit 0) or a fatal error (exit 1). Blocking: owns a loop."""
    try:
        return asyncio.run(follow(url, token, out, err))
    except KeyboardInterrupt:
        out.write("\n")
        out.flush()
        return 0


async def follow(
    url: str,
    token: str,
    out: TextIO,
    err: TextIO | None = None,
    *,
    first_backoff_s: float = 0.5,
    max_backoff_s: float = 10.0,
) -> int:
    """Print each finished request from the gateway at `url` to `out`; messages go to `err`.

    Returns 1 when the token is refused, the URL is not an Orca gateway, or
    nothing answers on the first attempt. Once connected it reconnects for
    ever (a gateway restart is normal); cancel the task to stop.
    """
    err = out if err is None else err
    target = events_url(url)
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    # heartbeats come every ~15 s: 45 s of silence means the connection is dead
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=45)
    connected_once = False
    backoff_s = first_backoff_s
    async with aiohttp.ClientSession(timeout=timeout, read_bufsize=2**20) as http:
        while True:
            try:
                async with http.get(target, headers=headers) as resp:
                    if resp.status != 200:
                        _say(err, _refusal(resp.status, target))
                        return 1
                    _say(err, _connected(target, again=connected_once))
                    connected_once, backoff_s = True, first_backoff_s
                    await _print_feed(resp, out, err)
                _say(err, "the gateway closed the feed; reconnecting...")
            except (aiohttp.ClientError, TimeoutError) as exc:
                if not connected_once:
                    _say(
                        err,
                        f"cannot reach the gateway at {target} ({_reason(exc)}): {_NOT_RUNNING}",
                    )
                    return 1
                _say(err, f"lost the gateway ({_reason(exc)}); reconnecting in {backoff_s:g} s...")
            await asyncio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, max_backoff_s)


def events_url(url: str) -> str:
    """The feed URL for a gateway URL given with or without `/v1` (the base URL users copy)."""
    base = url.rstrip("/")
    base = base.removesuffix("/v1")
    return f"{base}/orca/v1/events"


async def _print_feed(resp: aiohttp.ClientResponse, out: TextIO, err: TextIO) -> None:
    event, data = "message", []
    async for raw in resp.content:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.startswith(":"):
            continue  # comment: heartbeat
        if line:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            continue
        if event == "request" and data:
            _say(out, format_record(json.loads("\n".join(data))))
        elif event == "reset":
            _say(err, "... some requests were skipped (the terminal fell behind)")
        event, data = "message", []


def format_record(record_json: dict[str, Any]) -> str:
    """One readable line for a record (the `/orca/v1/events` JSON); ASCII only.

    time  client  requested -> served @ provider  route  status  tokens in/out
    cost  saved  overhead
    """
    r = record_json
    status = r.get("status") or 0
    route = f"{r['router']}/{r['strategy']}" if r.get("router") and r.get("strategy") else "-"
    parts = [
        _local_time(r.get("started_at")),
        f"{_text(r.get('client'))[:16]:<16}",
        f"{_text(r.get('requested_model'))} -> {_text(r.get('model'))}"
        f" @ {_text(r.get('provider'))}",
        route,
        str(status),
        f"{_count(r.get('prompt_tokens'))}/{_count(r.get('completion_tokens'))} tok",
        _usd(r.get("cost_usd")),
        f"saved {_usd(r.get('savings_usd'))}",
        "+" + (f"{r['overhead_ms']:.1f} ms" if r.get("overhead_ms") is not None else "- ms"),
    ]
    line = "  ".join(parts)
    if status >= 400 and r.get("error"):
        line += f"  ! {_one_line(str(r['error']))}"
    return line


def _local_time(started_at: Any) -> str:
    try:
        return datetime.fromisoformat(str(started_at)).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return str(started_at)


def _text(value: Any) -> str:
    return "-" if value in (None, "") else str(value)


def _count(value: Any) -> str:
    return "-" if value is None else str(value)


def _usd(value: Any) -> str:
    if value is None:
        return "$-"
    amount = Decimal(str(value))
    sign = "-" if amount < 0 else ""
    digits = 6 if abs(amount) < 1 else 4
    return f"{sign}${abs(amount):.{digits}f}"


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _refusal(status: int, target: str) -> str:
    if status == 401:
        return (
            f"the gateway at {target} refused the token (401): use the one "
            "`orca-desktop token` prints, or set ORCA_DESKTOP_TOKEN"
        )
    if status == 403:
        return f"the gateway at {target} refused this client (403): check the host and origin"
    return f"{target} answered HTTP {status}, not an Orca Desktop feed: {_NOT_RUNNING}"


def _connected(target: str, *, again: bool) -> str:
    if again:
        return f"reconnected to {target}"
    return f"following {target} (Ctrl-C to stop)"


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _say(stream: TextIO, line: str) -> None:
    stream.write(line + "\n")
    stream.flush()
