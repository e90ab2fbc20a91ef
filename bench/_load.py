"""Load drivers: wrk (non-stream, when installed) and sse_load.py, run as child processes.

Each returns one normalised dict: ok, seconds, rps, errors {kind: count}, and
total_us / ttfb_us / ttft_us percentile dicts (µs) or None. Children inherit the
orchestrator's CPU (the harness CPU) and are bounded by duration + timeout.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _targets import prioritise

BENCH = Path(__file__).resolve().parent
REQUEST_TIMEOUT_S = 10


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _bounded(argv: list[str], env: dict[str, str] | None, limit_s: float) -> str:
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    prioritise(proc.pid)
    try:
        out, err = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"{argv[0]} ran past {limit_s:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(
            f"{Path(argv[1] if argv[0] == sys.executable else argv[0]).name} "
            f"exited {proc.returncode}: {err.strip()[-400:]}"
        )
    return out


def run_wrk(
    url: str, body: str, headers: list[str], concurrency: int, seconds: int
) -> dict[str, Any]:
    env = {**os.environ, "BENCH_BODY": body, "BENCH_HEADERS": "\n".join(headers)}
    argv = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{seconds}s",
        f"--timeout={REQUEST_TIMEOUT_S}s",
        "-s",
        str(BENCH / "wrk_post.lua"),
        url,
    ]
    out = _bounded(argv, env, seconds + REQUEST_TIMEOUT_S + 15)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {out[-400:]}")
    raw = json.loads(line.split(" ", 1)[1])
    errors = {k: v for k, v in raw["errors"].items() if v}
    ok = raw["requests"] - raw["errors"]["status"]
    return {
        "ok": ok,
        "seconds": raw["seconds"],
        "rps": ok / raw["seconds"],
        "errors": errors,
        "total_us": raw["total_us"],
        "ttfb_us": None,
        "ttft_us": None,
        "tool": "wrk",
    }


def _sse_argv(action: str, url: str, body: str, headers: list[str]) -> list[str]:
    argv = [
        sys.executable,
        str(BENCH / "sse_load.py"),
        action,
        "--url",
        url,
        "--body",
        body,
        "--timeout",
        str(REQUEST_TIMEOUT_S),
    ]
    for header in headers:
        argv += ["-H", header]
    return argv


def run_sse(
    url: str, body: str, headers: list[str], concurrency: int, seconds: int, *, stream: bool
) -> dict[str, Any]:
    argv = _sse_argv("run", url, body, headers) + [
        "--mode",
        "stream" if stream else "plain",
        "-c",
        str(concurrency),
        "-d",
        str(seconds),
    ]
    result: dict[str, Any] = json.loads(_bounded(argv, None, seconds + REQUEST_TIMEOUT_S + 15))
    result["tool"] = "sse_load"
    return result


class Hold:
    """`sse_load.py hold`: many slow streams kept open; `ready()` waits for `READY n`."""

    def __init__(
        self, url: str, body: str, headers: list[str], streams: int, hold_s: float
    ) -> None:
        argv = _sse_argv("hold", url, body, headers) + [
            "--streams",
            str(streams),
            "--hold-s",
            str(hold_s),
        ]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        prioritise(self.proc.pid)
        self.hold_s = hold_s

    def ready(self, timeout_s: float) -> tuple[int, float] | None:
        """(streams open, seconds it took to open them), or None on timeout/exit."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if readable:
                line = self.proc.stdout.readline()
                if line.startswith("READY "):
                    _, count, took = line.split()
                    return int(count), float(took)
                if not line:
                    return None
        return None

    def finish(self) -> dict[str, Any]:
        try:
            out, err = self.proc.communicate(timeout=self.hold_s + REQUEST_TIMEOUT_S + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            return {"error": "hold load generator did not finish"}
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else {"error": err.strip()[-400:]}
