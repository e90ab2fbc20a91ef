"""What the benchmark reads from /proc: CPU time and memory of a process tree, CPU busy time.

Linux only. Every reader tolerates a process that has just exited (it counts as zero).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def tree(root: int) -> list[int]:
    """`root` and all its descendants (via /proc/<pid>/task/<tid>/children)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{tid}/children").read_text()
                todo += [int(c) for c in children.split()]
        except OSError:
            continue
    return found


def cpu_s(pids: list[int]) -> float:
    """user + system CPU seconds of these processes (all their threads), from /proc/<pid>/stat."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / TICKS_PER_S


def status_kib(pid: int, key: str) -> int:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM), 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(root: int) -> int:
    return sum(status_kib(pid, "VmRSS") for pid in tree(root))


def cpu_busy_s(cpus: list[int]) -> float:
    """Seconds the given CPUs spent not idle (user, nice, system, irq, softirq, steal)."""
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name = line.split(" ", 1)[0]
        if name[3:].isdigit() and int(name[3:]) in cpus:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, line.split()[1:9])
            busy += user + nice + system + irq + softirq + steal
    return busy / TICKS_PER_S


def pin(pid: int, cpu: int) -> None:
    """Pin every thread of `pid` (threads started later inherit the main thread's mask)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except OSError:
            pass


class RssSampler:
    """Samples a process tree's summed RSS every `interval_s` on a daemon thread; `peak_kib`
    is the maximum since the last `reset()`."""

    def __init__(self, root: int, interval_s: float = 0.1) -> None:
        self.root = root
        self.interval_s = interval_s
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"rss-{root}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.root))

    def reset(self) -> None:
        self.peak_kib = tree_rss_kib(self.root)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
