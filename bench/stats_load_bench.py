"""Benchmark (not a test): what loading the totals at start-up costs, `Stats.from_store`.

The gateway runs it before it serves, so its wall time is how long a start
over a large store keeps the gateway silent, and the anonymous memory it
leaves behind stays for the life of the process. Each rep runs in a fresh
Python process on a copy of the given store (made once, in a temp dir; the
original is never opened) and reports:

- `time`: wall seconds of `Stats.from_store(store)`, and `cpu`: its CPU
  seconds (the machine may be busy; CPU time varies less);
- `kept`: growth of RssAnon across it, after a `gc.collect()` (KiB);
- `peak`: how far RSS rose above where it started meanwhile (VmHWM, reset
  just before through /proc/self/clear_refs; KiB).

    .venv/bin/python bench/stats_load_bench.py STORE.sqlite3 [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import gc, json, sys, time
from pathlib import Path
from orca_desktop.telemetry.stats import Stats
from orca_desktop.telemetry.store import SqliteStore

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

store = SqliteStore(Path(sys.argv[1]))
store.start()
gc.collect()
anon, rss = status("RssAnon"), status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # VmHWM := VmRSS
t0, c0 = time.perf_counter(), time.process_time()
stats = Stats.from_store(store)
took, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = status("VmHWM") - rss
gc.collect()
print(json.dumps({"time": took, "cpu": cpu, "kept": status("RssAnon") - anon, "peak": peak,
                  "requests": stats.all_time().requests}))
store.close()
"""


def one_rep(path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


def copy_store(source: Path, into: Path) -> Path:
    """The store and its WAL, if any: records may still be in the WAL only."""
    target = into / "telemetry.sqlite3"
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orca-stats-bench-") as tmp:
        path = copy_store(args.store, Path(tmp))
        runs = []
        for rep in range(1, args.reps + 1):
            run = one_rep(path)
            runs.append(run)
            print(
                f"rep {rep}: {run['time']:.3f} s ({run['cpu']:.3f} s CPU), kept {run['kept']} KiB,"
                f" peak +{run['peak']} KiB, {run['requests']} requests",
                flush=True,
            )
    print(
        f"median of {args.reps}: {statistics.median(r['time'] for r in runs):.3f} s"
        f" ({statistics.median(r['cpu'] for r in runs):.3f} s CPU),"
        f" kept {statistics.median(r['kept'] for r in runs):.0f} KiB,"
        f" peak +{statistics.median(r['peak'] for r in runs):.0f} KiB"
    )


if __name__ == "__main__":
    main()
