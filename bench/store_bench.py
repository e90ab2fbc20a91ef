"""Benchmark (not a test): CPU the SQLite telemetry store costs per request record.

Emulates the gateway at high concurrency: the main thread (the event loop's
stand-in) is kept busy with `--work-us` of allocating Python work per
request and calls `store.add(record)` after each one, while the store's writer
thread runs beside it. The whole process is pinned to one CPU (as `bench/run.py`
pins the proxy), so the writer competes for the same core and for the GIL.

Each rep runs the same loop twice: once with a no-op in place of `store.add`,
once with a real `SqliteStore` in a temp dir. Reported per record (median over
reps):

- `process`: (process CPU with the store − with the no-op) / N: everything
  the store costs, including GIL hand-overs and garbage collection;
- `writer`: CPU of the store's writer thread / N (thread CPU clock), and the
  part of it spent in the kernel (file writes), from /proc at clock-tick resolution;
- `add()`: CPU spent inside `store.add` on the main thread / N, less the cost
  of the clock reads around it;
- `disk`: bytes of the database files after `close` / N.

`--read` measures the other side instead: the CPU of one `recent_json(100)`
call (what `GET /orca/v1/requests` costs) on a store of committed records,
process CPU per call, median over reps.

    .venv/bin/python bench/store_bench.py [--records 20000] [--reps 3] [--shape auto]
    .venv/bin/python bench/store_bench.py --read [--reps 5] [--shape auto]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from orca_desktop.telemetry.record import Attempt, CandidateView, RequestRecord
from orca_desktop.telemetry.store import SqliteStore

WRITER_THREAD = "orca-sqlite-writer"


def make_record(n: int, *, shape: str) -> RequestRecord:
    """A record shaped like the gateway's: `auto` (9 candidates, ~1.6 KB JSON) or `pinned`."""
    scale = Decimal(1 + n % 97)
    if shape == "auto":
        candidates = [
            CandidateView(
                f"model-{k}-{'mini' if k % 2 else 'large'}",
                ("openai", "anthropic", "google", "groq")[k % 4],
                Decimal("0.0000257") * scale * (k + 1),
                None if k < 6 else f"no key for {('groq', 'together')[k % 2]}",
            )
            for k in range(9)
        ]
        requested, router, strategy = "auto", "auto", "cheapest"
    else:
        candidates = [CandidateView("mock-gpt", "mock", Decimal("0.0000257") * scale, None)]
        requested, router, strategy = "mock-gpt", "pinned", "direct"
    return RequestRecord(
        id=f"orq_0104{n:016x}",
        started_at=f"2026-11-22T05:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}Z",
        endpoint="/v1/chat/completions",
        client="openai-python",
        requested_model=requested,
        router=router,
        strategy=strategy,
        reason="cheapest reachable model: model-0-large via openai",
        provider="openai",
        model="model-0-large",
        byok=True,
        status=200,
        stream=n % 2 == 0,
        candidates=candidates,
        attempts=[Attempt("model-0-large", "openai", 200, None, 198.543 + n % 13)],
        prompt_tokens=812 + n % 50,
        completion_tokens=64,
        cached_tokens=0,
        reasoning_tokens=0,
        cost_usd=Decimal("0.00001520") * scale,
        reference_model="gpt-4o",
        reference_cost_usd=Decimal("0.00038") * scale,
        savings_usd=Decimal("0.0003648") * scale,
        overhead_ms=0.4 + (n % 17) / 100,
        upstream_ms=198.543 + n % 13,
        ttft_ms=201.015 + n % 7,
        duration_ms=201.036 + n % 11,
    )


def busy(work_s: float, sink: list[object]) -> None:
    """Allocating Python work for `work_s` of this thread's CPU (a request's worth)."""
    end = time.thread_time() + work_s
    while time.thread_time() < end:
        item = {"model": "x", "messages": [{"role": "user", "content": "hi"}] * 4, "n": 1}
        sink.append(item)
        if len(sink) > 64:
            sink.clear()


def drive(n: int, shape: str, add: Callable[[RequestRecord], None], work_s: float) -> float:
    """Make and add `n` records, one per unit of work (records are new, as in the gateway).

    Returns the main thread's CPU seconds inside `add`.
    """
    sink: list[object] = []
    in_add = 0.0
    for i in range(n):
        busy(work_s, sink)
        record = make_record(i, shape=shape)
        t0 = time.thread_time()
        add(record)
        in_add += time.thread_time() - t0
    return in_add


def thread_cpu_s(name: str) -> Callable[[], tuple[float, float]]:
    """A reader of the named thread's (CPU, system CPU) seconds, valid while the thread lives.

    CPU comes from the thread's CPU clock (ns resolution); the system part from
    /proc (clock ticks), to tell SQLite's own work from the kernel's file writes.
    """
    (thread,) = [t for t in threading.enumerate() if t.name == name]
    assert thread.ident is not None and thread.native_id is not None
    clock = time.pthread_getcpuclockid(thread.ident)
    stat = Path(f"/proc/self/task/{thread.native_id}/stat")
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> tuple[float, float]:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return time.clock_gettime(clock), int(fields[12]) / ticks

    return read


def one_rep(n: int, shape: str, work_s: float) -> dict[str, float]:
    cpu0 = time.process_time()
    noop_add_s = drive(n, shape, lambda r: None, work_s)  # the clock reads around `add`
    noop_s = time.process_time() - cpu0

    with tempfile.TemporaryDirectory(prefix="orca-store-bench-") as tmp:
        path = Path(tmp) / "telemetry.sqlite3"
        store = SqliteStore(path)
        store.start()
        writer_cpu = thread_cpu_s(WRITER_THREAD)
        cpu0, (w0, sys0) = time.process_time(), writer_cpu()
        add_s = drive(n, shape, store.add, work_s) - noop_add_s
        time.sleep(0.6)  # let the last batch commit while the writer clock is still readable
        w1, sys1 = writer_cpu()
        store.close()
        with_s = time.process_time() - cpu0
        disk = sum(p.stat().st_size for p in Path(tmp).iterdir() if p.is_file())
    return {
        "process": (with_s - noop_s) / n * 1e6,
        "writer": (w1 - w0) / n * 1e6,
        "writer_sys": (sys1 - sys0) / n * 1e6,
        "add": add_s / n * 1e6,
        "disk": disk / n,
    }


def read_reps(shape: str, reps: int, *, stored: int = 1000, calls: int = 200) -> list[float]:
    """CPU ms of one `recent_json(100)` per rep, from a store of `stored` committed records."""
    with tempfile.TemporaryDirectory(prefix="orca-store-bench-") as tmp:
        path = Path(tmp) / "telemetry.sqlite3"
        with SqliteStore(path) as store:
            for i in range(stored):
                store.add(make_record(i, shape=shape))
        with SqliteStore(path) as store:  # nothing pending: every record read from the file
            store.recent_json(100)  # opens the read connection
            per_call = []
            for _ in range(reps):
                cpu0 = time.process_time()
                for _ in range(calls):
                    store.recent_json(100)
                per_call.append((time.process_time() - cpu0) / calls * 1e3)
    return per_call


def main_read(args: argparse.Namespace) -> None:
    runs = read_reps(args.shape, args.reps)
    for rep, ms in enumerate(runs, start=1):
        print(f"rep {rep}: recent_json(100) {ms:.3f} ms CPU", flush=True)
    print(
        f"median of {args.reps} reps, '{args.shape}' records:"
        f" recent_json(100) {statistics.median(runs):.3f} ms CPU per call"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--shape", choices=("auto", "pinned"), default="auto")
    parser.add_argument("--work-us", type=float, default=150.0, help="busy work per request")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: no pinning)")
    parser.add_argument("--read", action="store_true", help="measure recent_json instead")
    args = parser.parse_args()
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    if args.read:
        main_read(args)
        return
    rows = []
    for rep in range(args.reps):
        row = one_rep(args.records, args.shape, args.work_us / 1e6)
        rows.append(row)
        print(
            f"rep {rep + 1}: process {row['process']:6.1f} µs  writer {row['writer']:6.1f} µs"
            f" (system {row['writer_sys']:5.1f})"
            f"  add() {row['add']:5.2f} µs  disk {row['disk']:6.0f} B  (per record)",
            flush=True,
        )
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(
        f"median of {args.reps} x {args.records} '{args.shape}' records:"
        f" process {med['process']:.1f} µs, writer thread {med['writer']:.1f} µs"
        f" (of which system {med['writer_sys']:.1f}),"
        f" add() {med['add']:.2f} µs, disk {med['disk']:.0f} B per record"
    )


if __name__ == "__main__":
    main()
