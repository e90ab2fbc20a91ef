"""The things the benchmark measures and the processes it starts for them.

A `Target` is a base URL plus, unless it is `direct`, a command that serves it. `Process`
starts a command in its own session (so stopping it signals only that group), pins it to
a CPU, raises its priority when we may, logs to a file and samples its RSS.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import _proc

NICE = -10  # for everything we start, when running as root (see README: shared machine)


@dataclass
class Target:
    name: str
    description: str
    base_url: str
    argv: list[str] | None = None  # None: nothing to start (direct)
    env: dict[str, str] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)
    ready_path: str = "/v1/models"
    ready_timeout_s: float = 30.0
    optional: bool = False
    ui_probe: Path | None = None  # JSONL written by gui_probe.py


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prioritise(pid: int) -> None:
    """Raise priority (root only). With sched_autogroup, nice only ranks processes within a
    session, so the new session's autogroup gets the same nice."""
    if os.geteuid() != 0:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, NICE)
        Path(f"/proc/{pid}/autogroup").write_text(str(NICE))
    except OSError:
        pass


class Process:
    """A command we started; `stop()` signals only its own process group."""

    def __init__(
        self, name: str, argv: list[str], *, env: dict[str, str], log: Path, cpu: int | None
    ) -> None:
        self.name, self.argv, self.log = name, argv, log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self.cpu = cpu
        self.repin()  # before the interpreter has started any thread
        prioritise(self.pid)
        self.started_at = time.monotonic()
        self.sampler = _proc.RssSampler(self.pid)

    def repin(self) -> None:
        if self.cpu is not None:
            _proc.pin(self.pid, self.cpu)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu_s(self) -> float:
        return _proc.cpu_s(_proc.tree(self.pid))

    def rss_kib(self) -> int:
        return _proc.tree_rss_kib(self.pid)

    def hwm_kib(self) -> int:
        return _proc.status_kib(self.pid, "VmHWM")

    def log_tail(self, lines: int = 15) -> str:
        self._log_file.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        self.sampler.stop()
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=8)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self._log_file.close()


def request(
    base_url: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Sequence[str] = (),
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One blocking HTTP request below `base_url` (loopback); status, headers, whole body."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        sent = {"Content-Type": "application/json"}
        for line in headers:
            name, _, value = line.partition(":")
            sent[name.strip()] = value.strip()
        conn.request(method, url.path.rstrip("/") + path, body=body, headers=sent)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def wait_ready(target: Target, proc: Process) -> str | None:
    """None when the target answers below 500; else why not."""
    deadline = time.monotonic() + target.ready_timeout_s
    root = target.base_url.removesuffix("/v1")
    while time.monotonic() < deadline:
        if not proc.alive():
            return f"exited with code {proc.popen.returncode} during start-up"
        try:
            status, _, _ = request(
                root, "GET", target.ready_path, headers=target.headers, timeout=2.0
            )
            if status < 500:
                return None
        except OSError:
            pass
        time.sleep(0.1)
    return f"not ready after {target.ready_timeout_s:.0f} s"


def check_replies(target: Target, model: str, expected: str) -> dict[str, Any]:
    """One non-stream and one stream request; raises AssertionError naming what was wrong."""
    body = {"model": model, "messages": [{"role": "user", "content": "check"}]}
    status, headers, data = request(
        target.base_url,
        "POST",
        "/chat/completions",
        body=json.dumps(body).encode(),
        headers=target.headers,
    )
    assert status == 200, f"non-stream status {status}: {data[:300]!r}"
    content = json.loads(data)["choices"][0]["message"]["content"]
    assert content == expected, f"non-stream content {content!r}"
    body |= {"stream": True, "stream_options": {"include_usage": True}}
    status, _, data = request(
        target.base_url,
        "POST",
        "/chat/completions",
        body=json.dumps(body).encode(),
        headers=target.headers,
    )
    assert status == 200, f"stream status {status}: {data[:300]!r}"
    frames = [line[6:] for line in data.decode().splitlines() if line.startswith("data: ")]
    assert frames and frames[-1] == "[DONE]", "stream does not end with [DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    text = "".join(
        (c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices")
    )
    assert text == expected, f"stream content {text!r}"
    assert any(c.get("usage") for c in chunks), "stream has no usage frame despite include_usage"
    return {
        "overhead_header_ms": headers.get("x-orca-overhead-ms"),
        "served_by": headers.get("x-orca-provider"),
    }
