"""`orca-desktop` (tray app + window + gateway on one qasync loop) started as a user would."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp
import pytest

pytestmark = pytest.mark.asyncio

TOKEN = "sk-orca-desktop-e2e-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start_demo_app(tmp_path: Path, port: int, *extra: str) -> asyncio.subprocess.Process:
    """`orca-desktop --demo` offscreen, as a user would start it, with no keyring."""
    env = {
        **os.environ,
        "ORCA_DESKTOP_TOKEN": TOKEN,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orca_desktop",
        "--demo",
        *extra,
        "--config",
        str(tmp_path / "none.toml"),
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_desktop_app_serves_demo_and_shuts_down_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    data = tmp_path / "data"
    proc = await _start_demo_app(tmp_path, port, "--show-window")
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            for _ in range(200):
                try:
                    async with http.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("the desktop app never answered /healthz")
            body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
            for _ in range(3):  # the demo fails now and then on purpose; fallback absorbs it
                async with http.post(f"{base}/v1/chat/completions", json=body) as resp:
                    assert resp.status == 200
                    assert resp.headers["X-Orca-Route"] == "auto/cheapest"
                    assert (await resp.json())["choices"][0]["message"]["content"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()[-2000:]
    with sqlite3.connect(data / "telemetry.sqlite3") as conn:  # flushed on shutdown
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 3
    conn.close()


async def test_without_a_display_the_app_says_to_use_serve(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orca_desktop",
        "--config",
        str(tmp_path / "none.toml"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert b"no graphical display" in err and b"orca-desktop serve" in err


async def test_a_taken_port_is_reported_and_sigterm_still_ends_the_app(tmp_path: Path) -> None:
    """The start-up failure is said in a message box that nobody may click (offscreen,
    autostart); it must not hold a CPU or make the app deaf to SIGTERM."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await _start_demo_app(tmp_path, port)
        try:
            assert proc.stderr is not None
            said = b""
            while b"could not start" not in said:  # logged just before the box opens
                line = await asyncio.wait_for(proc.stderr.readline(), 30)
                assert line, "the app ended without saying why"
                said += line
            await asyncio.sleep(0.5)  # the message box is up now
            states = []
            for _ in range(5):
                with open(f"/proc/{proc.pid}/stat") as stat:  # noqa: ASYNC230 - procfs, instant
                    states.append(stat.read().rsplit(")", 1)[1].split()[0])
                await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert b"address already in use" in said.lower()
    asleep = sum(state in ("S", "D") for state in states)
    assert asleep >= 4, f"the app was not idle behind its message box: {states}"
