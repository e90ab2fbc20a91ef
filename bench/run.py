"""Benchmark for issue #5: what Orca Desktop's gateway costs over a bare aiohttp proxy.

    .venv/bin/python bench/run.py              # full run, ~6 minutes
    .venv/bin/python bench/run.py --quick      # ~1 minute, 1 rep, 1 s per scenario
    .venv/bin/python bench/run.py --targets direct,bare,orca --reps 3

Starts a deterministic mock upstream (mock_upstream.py, harness CPU), then each target:
`direct` (the mock itself), `bare` (bare_proxy.py), `orca` (`orca-desktop serve`, as a
user runs it, with env keys and a temp config/data dir) and, when it starts, `orca-gui`
(the desktop app offscreen with its window open, under gui_probe.py). Proxies run on
CPU 0, everything else on CPU 1. Non-stream load uses wrk when installed, streams use
sse_load.py; concurrency 1, 64 and 256. Also idle RSS, RSS with 1000 open streams and,
if present, bench/routing_bench.py. Last, the window's cost is measured paired: `orca`
and `orca-gui` run at once and take turns with `direct` in short c=64 windows
(--pairs cycles of --pair-seconds each), so drift on the machine hits both alike.
Prints a markdown report and writes it to bench/results/<stamp>.md (with the raw data
as <stamp>.json).

Every load targets 127.0.0.1 only, every wait is bounded, and only processes this script
started are ever signalled. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _load
import _proc
import _report
import aiohttp
import mock_upstream
from _targets import NICE, Process, Target, check_replies, free_port, request, wait_ready

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
TOKEN = "sk-orca-bench"
PROVIDER_KEY = "sk-bench"
MODEL = "mock-gpt"
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello in fifty tokens."},
]
PLAIN_BODY = json.dumps({"model": MODEL, "messages": MESSAGES, "max_tokens": 64})
STREAM_BODY = json.dumps(
    {
        "model": MODEL,
        "messages": MESSAGES,
        "max_tokens": 64,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
)
HOLD_BODY = json.dumps({"model": "mock-hold", "messages": MESSAGES, "stream": True})
ALL_TARGETS = ("direct", "bare", "orca", "orca-gui")
_PAIRED = ("orca-gui", "orca", "direct")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--targets",
        default=",".join(ALL_TARGETS),
        help=f"comma-separated, from {', '.join(ALL_TARGETS)} (default: all)",
    )
    p.add_argument("--reps", type=int, default=2, help="repetitions, interleaved (default 2)")
    p.add_argument("--seconds", type=int, default=4, help="per scenario and rep (default 4)")
    p.add_argument("--concurrency", default="1,64,256", help="default 1,64,256")
    p.add_argument("--hold-streams", type=int, default=1000, help="open streams for the RSS test")
    p.add_argument("--hold-seconds", type=float, default=3.0)
    p.add_argument("--chunks", type=int, default=50, help="tokens per mock reply (default 50)")
    p.add_argument("--interval-ms", type=float, default=1.0, help="between mock stream chunks")
    p.add_argument(
        "--quick", action="store_true", help="1 rep, 1 s per scenario, short hold (~1 minute)"
    )
    p.add_argument(
        "--pairs", type=int, default=9, help="paired orca / orca-gui cycles (default 9; 0: none)"
    )
    p.add_argument("--pair-seconds", type=int, default=2, help="per paired window (default 2)")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    p.add_argument(
        "--orca",
        default=str(Path(sys.executable).parent / "orca-desktop"),
        help="the orca-desktop executable (default: next to this python)",
    )
    p.add_argument("--no-wrk", action="store_true", help="use sse_load.py for non-stream too")
    p.add_argument("--out", type=Path, default=BENCH / "results")
    p.add_argument("--keep-tmp", action="store_true", help="keep configs, data dirs and logs")
    args = p.parse_args()
    if args.quick:
        args.reps, args.seconds, args.hold_seconds = 1, 1, 1.5
        args.pairs, args.pair_seconds = 1, 1
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(args.targets) - set(ALL_TARGETS)
    if unknown:
        p.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    return args


class Bench:
    """One benchmark run: the mock, the targets, the measurements, the report."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="orca-bench-"))
        self.pin = not args.no_pin and {0, 1} <= os.sched_getaffinity(0)
        self.proxy_cpu = 0 if self.pin else None
        if self.pin:
            os.sched_setaffinity(0, {1})  # the harness; children inherit it
        self.use_wrk = _load.wrk_available() and not args.no_wrk
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.results = _report.Results(meta={"stamp": stamp})
        self.quiet_budget_s = 5.0 if args.quick else 30.0
        self.mock: Process | None = None
        self.upstream = ""

    # -- set-up ----------------------------------------------------------------------
    def start_mock(self) -> None:
        port = free_port()
        self.upstream = f"http://127.0.0.1:{port}"
        argv = [
            sys.executable,
            str(BENCH / "mock_upstream.py"),
            "--port",
            str(port),
            "--chunks",
            str(self.args.chunks),
            "--interval-ms",
            str(self.args.interval_ms),
            "--hold-s",
            "300",
        ]
        self.mock = Process("mock", argv, env={}, log=self.tmp / "mock.log", cpu=None)
        probe = Target("mock", "", f"{self.upstream}/v1", ready_path="/health")
        problem = wait_ready(probe, self.mock)
        if problem:
            raise SystemExit(f"mock upstream {problem}:\n{self.mock.log_tail()}")

    def targets(self) -> list[Target]:
        made: dict[str, Callable[[], Target]] = {
            "direct": lambda: Target("direct", "the mock upstream itself", f"{self.upstream}/v1"),
            "bare": self._bare,
            "orca": lambda: self._orca(gui=False),
            "orca-gui": lambda: self._orca(gui=True),
        }
        return [made[name]() for name in self.args.targets]

    def _bare(self) -> Target:
        port = free_port()
        return Target(
            "bare",
            "bench/bare_proxy.py (aiohttp pass-through)",
            f"http://127.0.0.1:{port}/v1",
            argv=[
                sys.executable,
                str(BENCH / "bare_proxy.py"),
                "--port",
                str(port),
                "--upstream",
                self.upstream,
            ],
        )

    def _orca(self, *, gui: bool) -> Target:
        name = "orca-gui" if gui else "orca"
        port, home = free_port(), self.tmp / name
        home.mkdir(exist_ok=True)
        config = home / "orca.toml"
        config.write_text(orca_config(self.upstream))
        common = ["--config", str(config), "--data-dir", str(home / "data"), "--port", str(port)]
        env = {
            "ORCA_DESKTOP_TOKEN": TOKEN,
            "ORCA_KEY_MOCK": PROVIDER_KEY,
            "ORCA_KEYRING_SERVICE": "orca-desktop-bench",
        }
        if gui:
            probe = home / "ui.jsonl"
            return Target(
                name,
                "orca-desktop, window open offscreen (gui_probe.py)",
                f"http://127.0.0.1:{port}/v1",
                argv=[
                    sys.executable,
                    str(BENCH / "gui_probe.py"),
                    "--out",
                    str(probe),
                    "--",
                    *common,
                    "--show-window",
                ],
                env=env | {"QT_QPA_PLATFORM": "offscreen"},
                headers=[f"Authorization: Bearer {TOKEN}"],
                ready_path="/healthz",
                ready_timeout_s=60,
                optional=True,
                ui_probe=probe,
            )
        return Target(
            name,
            "orca-desktop serve (headless)",
            f"http://127.0.0.1:{port}/v1",
            argv=[self.args.orca, "serve", *common],
            env=env,
            headers=[f"Authorization: Bearer {TOKEN}"],
            ready_path="/healthz",
        )

    # -- measuring -------------------------------------------------------------------
    def snapshot(self, proc: Process | None) -> dict[str, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert self.mock is not None
        return {
            "t": time.monotonic(),
            "proxy": proc.cpu_s() if proc else 0.0,
            "mock": self.mock.cpu_s(),
            "ours": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            "busy": _proc.cpu_busy_s([0, 1]),
            "busy1": _proc.cpu_busy_s([1]),
        }

    def foreign_pct(self, a: dict[str, float], b: dict[str, float]) -> float:
        ours = sum(b[k] - a[k] for k in ("proxy", "mock", "ours"))
        return max(0.0, 100 * ((b["busy"] - a["busy"]) - ours) / (b["t"] - a["t"]))

    def wait_quiet(self, proc: Process | None) -> None:
        """Wait (at most 3 s here, and the run's quiet budget in all) until other sessions
        leave our two CPUs alone; the foreign load that remains is reported per run."""
        started = time.monotonic()
        deadline = started + min(3.0, self.quiet_budget_s)
        while time.monotonic() < deadline:
            a = self.snapshot(proc)
            time.sleep(0.3)
            if self.foreign_pct(a, self.snapshot(proc)) < 10:
                break
        self.quiet_budget_s -= time.monotonic() - started

    def scenario(
        self, target: Target, proc: Process | None, stream: bool, c: int, seconds: int
    ) -> dict[str, Any]:
        self.wait_quiet(proc)
        if proc:
            proc.repin()
            proc.sampler.reset()
        url = f"{target.base_url}/chat/completions"
        before, wall = self.snapshot(proc), time.time()
        if stream or not self.use_wrk:
            run = _load.run_sse(
                url,
                STREAM_BODY if stream else PLAIN_BODY,
                target.headers,
                c,
                seconds,
                stream=stream,
            )
        else:
            run = _load.run_wrk(url, PLAIN_BODY, target.headers, c, seconds)
        after = self.snapshot(proc)
        span = after["t"] - before["t"]
        proxy_s = after["proxy"] - before["proxy"]
        run |= {
            "foreign_pct": self.foreign_pct(before, after),
            "harness_cpu_pct": 100 * (after["busy1"] - before["busy1"]) / span,
            "proxy_cpu_pct": 100 * proxy_s / span if proc else None,
            "cpu_us_per_req": proxy_s / run["ok"] * 1e6 if proc and run["ok"] else None,
            "peak_rss_kib": proc.sampler.peak_kib if proc else None,
        }
        if target.ui_probe:
            run["ui"] = ui_window(target.ui_probe, wall, time.time())
        return run

    def hold(self, target: Target, proc: Process) -> dict[str, Any]:
        """RSS of the proxy tree while --hold-streams slow streams are open through it, and
        how many upstream streams the proxy closed once those clients went away."""
        base, gone_before = proc.rss_kib(), self.upstream_streams_gone()
        hold = _load.Hold(
            f"{target.base_url}/chat/completions",
            HOLD_BODY,
            target.headers,
            self.args.hold_streams,
            self.args.hold_seconds,
        )
        opened = hold.ready(timeout_s=60)
        peak = proc.rss_kib()
        end = time.monotonic() + self.args.hold_seconds - 0.3
        while opened and time.monotonic() < end:
            peak = max(peak, proc.rss_kib())
            time.sleep(0.1)
        result = hold.finish()
        # the mock sees a closed stream at its next write, one per second per stream
        count = opened[0] if opened else 0
        deadline = time.monotonic() + 3.0
        while self.upstream_streams_gone() - gone_before < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return {
            "base_kib": base,
            "rss_kib": peak if opened else None,
            "opened": count,
            "open_s": opened[1] if opened else None,
            "upstream_closed": self.upstream_streams_gone() - gone_before,
            "loadgen": result,
        }

    def upstream_streams_gone(self) -> int:
        """Streams the mock saw end early because its client (the proxy) closed them."""
        _, _, body = request(self.upstream, "GET", "/stats")
        return int(json.loads(body)["client_gone"])

    def start(self, target: Target, label: str) -> Process | None:
        """Start `target` (None for one with nothing to start) and wait until it answers."""
        if not target.argv:
            return None
        proc = Process(
            target.name,
            target.argv,
            env=target.env,
            log=self.tmp / f"{target.name}-{label}.log",
            cpu=self.proxy_cpu,
        )
        problem = wait_ready(target, proc)
        if problem:
            tail = proc.log_tail()
            proc.stop()
            raise TargetFailed(f"{problem}; log tail:\n{tail}")
        return proc

    def run_target(self, target: Target, rep: int, last: bool) -> None:
        mem = self.results.memory.setdefault(target.name, {})
        proc = self.start(target, str(rep))
        try:
            if proc:
                time.sleep(1.0)
                mem.setdefault("idle_kib", []).append(proc.rss_kib())
                if target.ui_probe:
                    now = time.time()
                    mem["ui_idle_max_ms"] = ui_window(target.ui_probe, now - 1.0, now)["max_ms"]
            if rep == 0:
                expected = "".join(mock_upstream.tokens(self.args.chunks))
                mem["check"] = check_replies(target, MODEL, expected)
            log(f"{target.name}: warm-up")
            self.scenario(target, proc, False, 64, 1)
            self.scenario(target, proc, True, 64, 1)
            for stream in (False, True):
                for c in self.args.concurrency:
                    name = f"{'st' if stream else 'ns'}_c{c}"
                    run = self.scenario(target, proc, stream, c, self.args.seconds)
                    self.results.add(target.name, name, run)
                    log(f"{target.name} rep {rep + 1} {name}: {summary_line(run)}")
            if proc:
                time.sleep(1.0)
                mem.setdefault("after_load_kib", []).append(proc.rss_kib())
                mem.setdefault("peak_kib", []).append(proc.sampler.peak_kib)
                mem.setdefault("hwm_kib", []).append(proc.hwm_kib())
                if last:
                    log(f"{target.name}: holding {self.args.hold_streams} streams open")
                    mem["hold"] = self.hold(target, proc)
        finally:
            if proc:
                proc.stop()

    def routing(self) -> None:
        script = BENCH / "routing_bench.py"
        if not script.exists():
            self.results.routing = {"note": "bench/routing_bench.py does not exist yet"}
            return
        log("routing_bench.py")
        try:
            argv = [sys.executable, str(script)] + (["--rounds", "5000"] if self.args.quick else [])
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=180,
                cwd=PROJECT,
                stdin=subprocess.DEVNULL,
            )
            output = done.stdout + (f"\n[stderr]\n{done.stderr}" if done.returncode else "")
        except subprocess.TimeoutExpired:
            self.results.routing = {"note": "routing_bench.py ran past 180 s"}
            return
        median_us, note = routing_median_us(done.stdout)
        self.results.routing = {"output": output, "median_us": median_us, "note": note}

    # -- the whole run ---------------------------------------------------------------
    def run(self) -> str:
        started = time.monotonic()
        self.start_mock()
        targets = self.targets()
        failed: set[str] = set()
        for rep in range(self.args.reps):
            for target in targets:
                if target.name in failed:
                    continue
                log(f"{target.name}: rep {rep + 1}/{self.args.reps}")
                try:
                    self.run_target(target, rep, last=rep == self.args.reps - 1)
                except (TargetFailed, AssertionError, RuntimeError, OSError) as exc:
                    failed.add(target.name)
                    skipped = "optional target skipped" if target.optional else "FAILED"
                    self.results.notes.append(f"`{target.name}` {skipped}: {exc}")
                    log(f"{target.name}: {skipped}: {exc}")
        paired = [t for t in targets if t.name in ("direct", "orca", "orca-gui")]
        if self.args.pairs > 0 and len(paired) == 3 and not failed & {"orca", "orca-gui"}:
            self.paired(paired)
        self.routing()
        self.describe(time.monotonic() - started)
        return _report.render(self.results)

    def paired(self, targets: list[Target]) -> None:
        """The window's cost side by side: headless and window apps run at once (pinned to
        the same CPU; the one not loaded idles) and take turns with `direct` in c=64
        non-stream windows, the order rotating each cycle. Sequential reps compare runs
        minutes apart, so any drift on the machine lands on one side only."""
        log(f"paired: {self.args.pairs} cycles of {self.args.pair_seconds} s windows")
        procs: dict[str, Process | None] = {}
        try:
            for target in targets:
                procs[target.name] = self.start(target, "pair")
            for target in targets:  # warm-up
                self.scenario(target, procs[target.name], False, 64, 1)
            for cycle in range(self.args.pairs):
                shift = cycle % len(targets)
                runs = {}
                for target in targets[shift:] + targets[:shift]:
                    runs[target.name] = self.scenario(
                        target, procs[target.name], False, 64, self.args.pair_seconds
                    )
                self.results.paired.append(runs)
                gui, orca, direct = (runs[n]["total_us"]["p50"] for n in _PAIRED)
                window = (gui - direct) / max(1.0, orca - direct)
                log(f"paired cycle {cycle + 1}: window {window:.2f}x headless")
        except (TargetFailed, AssertionError, RuntimeError, OSError) as exc:
            self.results.notes.append(f"paired window measurement stopped: {exc}")
            log(f"paired: stopped: {exc}")
        finally:
            for proc in procs.values():
                if proc:
                    proc.stop()

    def describe(self, elapsed: float) -> None:
        a = self.args
        self.results.meta.update(
            {
                "machine": machine(),
                "commit": commit(),
                "elapsed_s": elapsed,
                "reps": a.reps,
                "seconds": a.seconds,
                "concurrency": a.concurrency,
                "hold_streams": a.hold_streams,
                "pairs": a.pairs,
                "pair_seconds": a.pair_seconds,
                "pinning": (
                    "proxies on CPU 0; mock, load generators and orchestrator on CPU 1 "
                    "(os.sched_setaffinity)"
                )
                if self.pin
                else "none",
                "priority": f"nice {NICE} (process and session autogroup) for everything started"
                if os.geteuid() == 0
                else "default (not root)",
                "mock": f"{a.chunks} tokens, stream chunks {a.interval_ms:g} ms apart",
                "load": ("wrk (non-stream), " if self.use_wrk else "sse_load.py (non-stream), ")
                + "sse_load.py (stream), closed loop",
            }
        )

    def close(self) -> None:
        if self.mock:
            self.mock.stop()
        if self.args.keep_tmp:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class TargetFailed(Exception):
    """A target did not start or answered wrongly."""


def orca_config(upstream: str) -> str:
    models = "\n".join(
        f'[[models]]\nid = "{m}"\nprovider = "mock"\ninput_price = 0.15\noutput_price = 0.60\n'
        f'context_window = 128000\ncapabilities = ["tools"]\n'
        for m in ("mock-gpt", "mock-hold")
    )
    return (
        f'[providers.mock]\nkind = "openai-compatible"\nbase_url = "{upstream}/v1"\n'
        f'models = ["mock-gpt", "mock-hold"]\n\n{models}'
    )


def ui_window(path: Path, start: float, end: float) -> dict[str, float]:
    """Worst UI delay and count over 50 ms in the probe lines written between start and end."""
    lines = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    inside = [x for x in lines if start <= x["t"] <= end + 0.3]
    return {
        "max_ms": max((x["max_ms"] for x in inside), default=None),
        "over_50": sum(x["over_50"] for x in inside),
        "samples": sum(x["n"] for x in inside),
    }


def routing_median_us(text: str) -> tuple[float | None, str]:
    """The median to judge in µs from routing_bench.py's output, and where it came from:
    a JSON line with `median_us`, else the largest `worst median X µs`, else None."""
    for line in reversed(text.splitlines()):
        if line.strip().startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and "median_us" in data:
                return float(data["median_us"]), "median_us from its JSON output"
    scale = {"µs": 1.0, "us": 1.0, "ns": 1e-3, "ms": 1e3}
    worst = [
        float(value) * scale[unit.lower()]
        for value, unit in re.findall(
            r"worst median\s+([0-9]+(?:\.[0-9]+)?)\s*(µs|us|ns|ms)", text, re.I
        )
    ]
    if worst:
        return max(worst), "the worst scenario's median over all its catalogs"
    return None, "no median found in its output"


def summary_line(run: dict[str, Any]) -> str:
    total = run.get("total_us") or {}
    cpu = run.get("cpu_us_per_req")
    return (
        f"{run['ok']} ok, {run['rps']:.0f}/s, p50 {total.get('p50', 0) / 1000:.2f} ms"
        + (f", {cpu:.0f} µs CPU/req" if cpu else "")
        + (f", errors {run['errors']}" if run["errors"] else "")
    )


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    wrk = "wrk" if shutil.which("wrk") else "no wrk"
    return (
        f"{model}, {os.cpu_count()} CPUs, {mem_kib / 1024**2:.0f} GiB, Linux "
        f"{platform.release()}; Python {platform.python_version()}, aiohttp "
        f"{aiohttp.__version__}, {wrk}"
    )


def commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(PROJECT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def main() -> int:
    args = parse_args()
    bench = Bench(args)
    try:
        report = bench.run()
    finally:
        bench.close()
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = bench.results.meta["stamp"]
    (args.out / f"{stamp}.md").write_text(report)
    (args.out / f"{stamp}.json").write_text(
        json.dumps(dataclasses.asdict(bench.results), indent=1, default=str)
    )
    log(f"wrote {args.out / (stamp + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
