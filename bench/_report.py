"""Turns the benchmark's raw runs into the markdown report and the issue #5 verdicts.

Pure: takes the `Results` the orchestrator filled in, returns text. Cells are medians
over repetitions; overhead = target − direct for the same percentile; "× bare" divides
Orca's overhead (or CPU) by the bare proxy's.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Run = dict[str, Any]


@dataclass
class Results:
    meta: dict[str, Any]
    runs: dict[str, dict[str, list[Run]]] = field(default_factory=dict)  # target → scenario → reps
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)
    routing: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    paired: list[dict[str, Run]] = field(default_factory=list)  # cycle → target → run

    def add(self, target: str, scenario: str, run: Run) -> None:
        self.runs.setdefault(target, {}).setdefault(scenario, []).append(run)


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def metric(
    results: Results,
    target: str,
    scenario: str,
    pick: Callable[[Run], Any],
    rep: int | None = None,
) -> float | None:
    """Median over reps of `pick(run)`, or rep `rep`'s value; None when it did not run."""
    reps = results.runs.get(target, {}).get(scenario, [])
    if rep is not None:
        reps = reps[rep : rep + 1]

    def safe(run: Run) -> float | None:
        try:
            value = pick(run)
        except (KeyError, TypeError):
            return None
        return None if value is None else float(value)

    return median([safe(r) for r in reps])


def p(key: str, stat: str) -> Callable[[Run], float]:
    """Percentile `stat` of timing `key` (total_us/ttfb_us/ttft_us), in ms."""
    return lambda run: run[key][stat] / 1000


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0:
        return None
    return value / base


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{max(1, digits - 1)}f}"


def overhead(
    results: Results, target: str, scenario: str, key: str, rep: int | None = None
) -> float | None:
    mine = metric(results, target, scenario, p(key, "p50"), rep)
    floor = metric(results, "direct", scenario, p(key, "p50"), rep)
    return None if mine is None or floor is None else mine - floor


def cpu(results: Results, target: str, scenario: str, rep: int | None = None) -> float | None:
    return metric(results, target, scenario, lambda x: x["cpu_us_per_req"], rep)


@dataclass(frozen=True)
class Verdict:
    name: str
    measured: float | None
    limit: float
    unit: str
    detail: str = ""
    per_rep: tuple[float | None, ...] = ()

    def row(self) -> str:
        reps = "–"
        if any(v is not None for v in self.per_rep):
            reps = ", ".join(self._show(v) for v in self.per_rep)
        if self.measured is None:
            return (
                f"| {self.name} | not measured | ≤ {self.limit:g}{self.unit} | {reps} "
                f"| – {self.detail} |"
            )
        met = self.measured <= self.limit
        margin = 100 * abs(self.measured / self.limit - 1)
        by = f"met, {margin:.1f} % under" if met else f"**missed**, {margin:.1f} % over"
        return (
            f"| {self.name} | {self._show(self.measured)}{self.unit} "
            f"| ≤ {self.limit:g}{self.unit} | {reps} "
            f"| {by}{' — ' + self.detail if self.detail else ''} |"
        )

    def _show(self, value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value:.2f}" if self.unit == "×" else fmt(value)


Measure = Callable[[int | None], float | None]  # rep index (None: the median) → value


def verdicts(r: Results) -> list[Verdict]:
    orca, gui = "orca", "orca-gui"
    mem = r.memory.get(orca, {})
    hold = mem.get("hold", {})
    wanted = r.meta.get("hold_streams")
    short = hold.get("opened") not in (None, wanted)

    def over_ratio(target: str, ref: str, scenario: str, field: str) -> Measure:
        return lambda i: ratio(
            overhead(r, target, scenario, field, i), overhead(r, ref, scenario, field, i)
        )

    def cpu_ratio(target: str, ref: str, scenario: str) -> Measure:
        return lambda i: ratio(cpu(r, target, scenario, i), cpu(r, ref, scenario, i))

    checks: list[tuple[str, Measure, float, str, str]] = [
        (
            "non-stream c=1 overhead p50 vs bare",
            over_ratio(orca, "bare", "ns_c1", "total_us"),
            1.3,
            "×",
            "",
        ),
        (
            "CPU per request, non-stream c=64, vs bare",
            cpu_ratio(orca, "bare", "ns_c64"),
            1.5,
            "×",
            "",
        ),
        (
            "CPU per stream, stream c=64, vs bare",
            cpu_ratio(orca, "bare", "st_c64"),
            1.5,
            "×",
            "",
        ),
        (
            "stream TTFB overhead p50 (c=1) vs bare",
            over_ratio(orca, "bare", "st_c1", "ttfb_us"),
            1.3,
            "×",
            "",
        ),
        (
            "routing decision median",
            lambda i: r.routing.get("median_us") if i is None else None,
            50,
            " µs",
            r.routing.get("note", ""),
        ),
        (
            "GUI overhead p50 under c=64 load (non-stream) vs headless",
            over_ratio(gui, orca, "ns_c64", "total_us"),
            1.25,
            "×",
            "",
        ),
        ("UI thread blocked (worst, during all load)", lambda i: _ui_worst(r, i), 50, " ms", ""),
        (
            "idle RSS, headless",
            lambda i: _mib(median(_pick(mem.get("idle_kib", []), i))),
            60,
            " MiB",
            "",
        ),
        (
            f"RSS with {hold.get('opened') or wanted} open streams, headless",
            lambda i: _mib(hold.get("rss_kib")) if i is None else None,
            250,
            " MiB",
            f"only {hold.get('opened')} of {wanted} streams opened" if short else "",
        ),
    ]
    reps = range(r.meta.get("reps", 1)) if r.meta.get("reps", 1) > 1 else range(0)
    found = [
        Verdict(name, fn(None), limit, unit, detail, tuple(fn(i) for i in reps))
        for name, fn, limit, unit, detail in checks
    ]
    return [_paired_gui(r, v) if v.name.startswith("GUI overhead") else v for v in found]


def paired_ratios(r: Results) -> list[float | None]:
    """Per paired cycle: the window app's c=64 overhead p50 over the headless app's."""

    def over(runs: dict[str, Run], target: str) -> float | None:
        try:
            return float(runs[target]["total_us"]["p50"] - runs["direct"]["total_us"]["p50"])
        except (KeyError, TypeError):
            return None

    return [ratio(over(runs, "orca-gui"), over(runs, "orca")) for runs in r.paired]


def _paired_gui(r: Results, sequential: Verdict) -> Verdict:
    """The GUI verdict from the paired cycles when they ran (the sequential reps compare
    runs minutes apart); the sequential figure stays in the detail."""
    per_cycle = paired_ratios(r)
    if not any(v is not None for v in per_cycle):
        return sequential
    shown = "–" if sequential.measured is None else f"{sequential.measured:.2f}×"
    return Verdict(
        sequential.name + " (paired)",
        median(per_cycle),
        sequential.limit,
        sequential.unit,
        f"per paired cycle; sequential reps: {shown}",
        tuple(per_cycle),
    )


def _pick(values: list[Any], rep: int | None) -> list[Any]:
    return values if rep is None else values[rep : rep + 1]


def _ui_worst(r: Results, rep: int | None) -> float | None:
    worst = [
        run.get("ui", {}).get("max_ms")
        for runs in r.runs.get("orca-gui", {}).values()
        for run in _pick(runs, rep)
    ]
    return max((v for v in worst if v is not None), default=None)


def _mib(kib: float | None) -> float | None:
    return None if kib is None else kib / 1024


def render(r: Results) -> str:
    m = r.meta
    out = [
        f"# Orca Desktop benchmark — {m['stamp']}",
        "",
        f"Machine: {m['machine']}. Project commit `{m['commit']}`.",
        f"Pinning: {m['pinning']}. Priority: {m['priority']}.",
        f"Mock upstream: {m['mock']}. Load: {m['load']}.",
        f"{m['reps']} rep(s) of {m['seconds']} s per scenario, targets interleaved and "
        f"restarted per rep; cells are medians over reps. Run took {m['elapsed_s']:.0f} s.",
        "",
        "## Issue #5 targets",
        "",
        "| target | measured (median) | limit | per rep | result |",
        "|---|---|---|---|---|",
    ]
    out += [v.row() for v in verdicts(r)]
    out += [
        "",
        *_latency_tables(r),
        *_memory_table(r),
        *_ui_table(r),
        *_paired_table(r),
        *_routing(r),
        *_conditions(r),
    ]
    if r.notes:
        out += ["## Notes", "", *[f"- {n}" for n in r.notes], ""]
    return "\n".join(out) + "\n"


def _paired_table(r: Results) -> list[str]:
    if not r.paired:
        return []
    m = r.meta
    out = [
        "## Window cost, paired (non-stream c=64)",
        "",
        f"`orca` and `orca-gui` ran at the same time, taking turns with `direct` in "
        f"{m.get('pair_seconds')} s windows, the order rotating each cycle.",
        "",
        "| cycle | direct p50 | orca p50 | orca-gui p50 | overhead ratio "
        "| orca CPU µs/req | orca-gui CPU µs/req | foreign CPU % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, (runs, over) in enumerate(zip(r.paired, paired_ratios(r), strict=True), 1):

        def ms(target: str, runs: dict[str, Run] = runs) -> str:
            return fmt(runs.get(target, {}).get("total_us", {}).get("p50", 0) / 1000)

        def cpu_of(target: str, runs: dict[str, Run] = runs) -> str:
            return fmt(runs.get(target, {}).get("cpu_us_per_req"))

        foreign = max(run.get("foreign_pct") or 0.0 for run in runs.values())
        out.append(
            f"| {i} | {ms('direct')} | {ms('orca')} | {ms('orca-gui')} "
            f"| {'–' if over is None else f'{over:.2f}×'} | {cpu_of('orca')} "
            f"| {cpu_of('orca-gui')} | {foreign:.1f} |"
        )
    return [*out, ""]


def _latency_tables(r: Results) -> list[str]:
    cs = r.meta["concurrency"]
    out = [
        "## Non-stream (ms)",
        "",
        "| target | c | p50 | p90 | p99 | req/s | overhead p50 | ÷ bare overhead "
        "| CPU µs/req | × bare | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for target in r.runs:
        for c in cs:
            out.append(_row(r, target, f"ns_c{c}", c, stream=False))
    out += [
        "",
        "## Stream (ms; TTFB = first body byte, TTFT = first token, total = to [DONE])",
        "",
        "| target | c | TTFB p50 | TTFB p99 | TTFT p50 | total p50 | total p99 | "
        "streams/s | TTFB overhead p50 | ÷ bare overhead | CPU µs/stream | × bare | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for target in r.runs:
        for c in cs:
            out.append(_row(r, target, f"st_c{c}", c, stream=True))
    out += [
        "",
        "Overhead = target − direct at the same percentile. CPU µs/req = user+system "
        "time of the proxy's process tree (/proc/<pid>/stat) over the run ÷ completed "
        "requests. c=64/256 latencies are closed-loop queueing times.",
        "",
    ]
    return out


def _row(r: Results, target: str, scenario: str, c: int, *, stream: bool) -> str:
    if scenario not in r.runs.get(target, {}):
        return f"| {target} | {c} |" + " – |" * (12 if stream else 9)
    cpu = metric(r, target, scenario, lambda x: x["cpu_us_per_req"])
    cpu_bare = metric(r, "bare", scenario, lambda x: x["cpu_us_per_req"])
    errors = sum(sum(run["errors"].values()) for run in r.runs[target][scenario])
    rps = metric(r, target, scenario, lambda x: x["rps"])
    key = "ttfb_us" if stream else "total_us"
    over = overhead(r, target, scenario, key) if target != "direct" else None
    over_bare = overhead(r, "bare", scenario, key)
    cells: list[float | None]
    if stream:
        cells = [
            metric(r, target, scenario, p("ttfb_us", "p50")),
            metric(r, target, scenario, p("ttfb_us", "p99")),
            metric(r, target, scenario, p("ttft_us", "p50")),
            metric(r, target, scenario, p("total_us", "p50")),
            metric(r, target, scenario, p("total_us", "p99")),
            rps,
        ]
    else:
        cells = [metric(r, target, scenario, p("total_us", s)) for s in ("p50", "p90", "p99")]
        cells.append(rps)
    cells += [
        over,
        ratio(over, over_bare) if target not in ("direct", "bare") else None,
        cpu,
        ratio(cpu, cpu_bare) if target not in ("direct", "bare") else None,
    ]
    flag = " ‡" if (metric(r, target, scenario, lambda x: x["foreign_pct"]) or 0) > 10 else ""
    return f"| {target}{flag} | {c} | " + " | ".join(fmt(v) for v in cells) + f" | {errors} |"


def _memory_table(r: Results) -> list[str]:
    out = [
        "## Memory (MiB; RSS summed over the process tree)",
        "",
        "| target | idle after start | idle after load | peak sampled | VmHWM | open streams "
        "| RSS with them open | per open stream KiB | seconds to open | upstream closed after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for target, mem in r.memory.items():
        hold = mem.get("hold", {})
        per = None
        if hold.get("rss_kib") and hold.get("base_kib") and hold.get("opened"):
            per = (hold["rss_kib"] - hold["base_kib"]) / hold["opened"]
        cells = [
            _mib(median(mem.get(k, [])))
            for k in ("idle_kib", "after_load_kib", "peak_kib", "hwm_kib")
        ]
        out.append(
            f"| {target} | "
            + " | ".join(fmt(v) for v in cells)
            + f" | {hold.get('opened', '–')} | {fmt(_mib(hold.get('rss_kib')))} "
            f"| {fmt(per)} | {fmt(hold.get('open_s'))} | {hold.get('upstream_closed', '–')} |"
        )
    return [
        *out,
        "",
        "Open streams: the load generator opens them all at once to a model that sends one "
        'token per second, holds them, then closes them; "upstream closed after" counts the '
        "mock's streams that ended early within 3 s of that, i.e. the client disconnect reached "
        "the upstream request.",
        "",
    ]


def _ui_table(r: Results) -> list[str]:
    runs = r.runs.get("orca-gui")
    if not runs:
        return []
    out = [
        "## UI responsiveness (orca-gui; delay of a Qt event posted every 10 ms)",
        "",
        "| scenario | worst delay ms (max over reps) | delays > 50 ms |",
        "|---|---|---|",
    ]
    for scenario, reps in runs.items():
        worst = max((run.get("ui", {}).get("max_ms") or 0 for run in reps), default=0)
        over = sum(run.get("ui", {}).get("over_50", 0) for run in reps)
        out.append(f"| {scenario} | {fmt(worst)} | {over} |")
    idle = r.memory.get("orca-gui", {}).get("ui_idle_max_ms")
    return [*out, "", f"Idle (window open, no load): worst delay {fmt(idle)} ms.", ""]


def _routing(r: Results) -> list[str]:
    if not r.routing:
        return []
    text = r.routing.get("output", "").strip()
    return [
        "## Routing decision timing (bench/routing_bench.py)",
        "",
        r.routing.get("note", ""),
        "",
        "```",
        text[-3000:] or "(no output)",
        "```",
        "",
    ]


def _conditions(r: Results) -> list[str]:
    out = [
        "## Conditions per run (medians over reps)",
        "",
        "| target | scenario | proxy CPU % | harness CPU busy % | foreign CPU % |",
        "|---|---|---|---|---|",
    ]
    for target, scenarios in r.runs.items():
        for scenario in scenarios:
            cells = [
                metric(r, target, scenario, lambda x, k=k: x[k])  # type: ignore[misc]
                for k in ("proxy_cpu_pct", "harness_cpu_pct", "foreign_pct")
            ]
            out.append(f"| {target} | {scenario} | " + " | ".join(fmt(v) for v in cells) + " |")
    return [
        *out,
        "",
        "Foreign CPU = busy time on the two pinned CPUs not used by the proxy, "
        "the mock, the load generator or the orchestrator (other sessions on this machine); "
        "‡ marks a median above 10 % of a core. Harness CPU = the mock + load generator's "
        "CPU; near 100 % means the harness, not the proxy, limited throughput.",
        "",
    ]
