"""Benchmark (not a test): what `StreamCleaner` costs at the start of a stream.

The gateway cannot send a stream's first byte before the cleaner returned it, so
the work done on a stream's opening frames (the role-only frame, the first content
frame) adds to time-to-first-byte. For each opening below, a fresh cleaner is fed
the stream's first chunks as an upstream sends them:

- "first output": from creating the cleaner to the feed that returned bytes, plus
  the `error` check the gateway makes then (chat.py `_first_output`): what the
  first byte waits for;
- "opening": from creating the cleaner until `first_content` is known, deferred
  work included: what the cleaner spends on the opening in all.

"warm" repeats a sample back to back; "cold" evicts the CPU caches before every
sample, closer to a gateway that did other work between two streams. A last line
gives the cost per chunk of a whole 50-chunk stream. `--against FILE` times the
`StreamCleaner` of another sse.py in the same run, e.g. the committed one:

    git show HEAD:orca_desktop/gateway/sse.py > /tmp/sse_before.py
    .venv/bin/python bench/sse_bench.py --against /tmp/sse_before.py

Run: .venv/bin/python bench/sse_bench.py [--rounds 20000] [--cold-rounds 2000]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import time
from collections.abc import Callable
from typing import Any

from orca_desktop.gateway.sse import StreamCleaner

MODEL = "gpt-4o-mini-2024-07-18"
BASE: dict[str, Any] = {
    "id": "chatcmpl-AZx3kQ0rVb7mTnWcL5yH2pD9sE1fG",
    "object": "chat.completion.chunk",
    "created": 1733011200,
    "model": MODEL,
    "system_fingerprint": "fp_0ba0d124f1",
}
ROLE_DELTA = {"role": "assistant", "content": "", "refusal": None}


def frame(delta: dict[str, Any], *, spaced: bool = False, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
    obj = BASE | {"choices": [choice]} | extra
    seps = (", ", ": ") if spaced else (",", ":")
    return b"data: " + json.dumps(obj, separators=seps).encode() + b"\n\n"


def model_last(delta: dict[str, Any]) -> bytes:
    """Key order some OpenAI-compatible servers use: choices first, model after."""
    obj = {
        "id": "cmpl-8f2c",
        "object": "chat.completion.chunk",
        "created": 1733011200,
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "usage": None,
    }
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


AZURE_PREFRAME = (
    b'data: {"choices":[],"created":0,"id":"","model":"","object":"",'
    b'"prompt_filter_results":[{"prompt_index":0,"content_filter_results":'
    b'{"hate":{"filtered":false,"severity":"safe"}}}]}\n\n'
)
TOOL_START = frame(
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "index": 0,
                "id": "call_Qx1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ],
        "refusal": None,
    }
)

# name -> the upstream chunks of a stream's opening, as they arrive
OPENINGS: dict[str, list[bytes]] = {
    "openai: role chunk, then content chunk": [frame(ROLE_DELTA), frame({"content": "Hello"})],
    "openai: role + content in one chunk": [frame(ROLE_DELTA) + frame({"content": "Hello"})],
    "openai, include_usage (usage: null)": [
        frame(ROLE_DELTA, usage=None),
        frame({"content": "Hello"}, usage=None),
    ],
    "mock upstream head (bench/mock_upstream.py)": [
        frame({"role": "assistant", "content": ""}) + frame({"content": "tok00 "})
    ],
    "spaced JSON": [
        frame(ROLE_DELTA, spaced=True),
        frame({"content": "Hello"}, spaced=True),
    ],
    "content with escapes": [frame(ROLE_DELTA), frame({"content": 'a "quoted"\\n {x}'})],
    "tool call opening": [TOOL_START],
    "azure: content-filter pre-frame first": [
        AZURE_PREFRAME,
        frame(ROLE_DELTA),
        frame({"content": "Hello"}),
    ],
    "model after choices": [model_last({"role": "assistant"}), model_last({"content": "Hi"})],
}


Cleaner = Callable[..., Any]


def to_first_output(cls: Cleaner, chunks: list[bytes]) -> Callable[[], None]:
    def run() -> None:
        cleaner = cls(served_model="gpt-4o-mini", keep_usage=False)
        for piece in chunks:
            if cleaner.feed(piece):
                if cleaner.error is not None and not cleaner.first_content:
                    raise AssertionError("an error first")
                return
        raise AssertionError("the opening never produced output")

    return run


def to_first_content(cls: Cleaner, chunks: list[bytes]) -> Callable[[], None]:
    def run() -> None:
        cleaner = cls(served_model="gpt-4o-mini", keep_usage=False)
        for piece in chunks:
            cleaner.feed(piece)
            if cleaner.first_content:
                return
        raise AssertionError("the opening never reached first content")

    return run


class Evictor:
    """Walks a buffer larger than the last-level cache, so the next sample starts cold."""

    def __init__(self, mib: int) -> None:
        self._buf = bytearray(mib * 1024 * 1024)

    def __call__(self) -> None:
        self._buf[::64] = self._buf[1::64]


def sample_ns(
    runs: list[Callable[[], None]], rounds: int, before: Callable[[], None] | None
) -> list[list[int]]:
    """Samples of each run, taken in turns so that load from elsewhere on the machine
    weighs on all of them alike."""
    clock = time.perf_counter_ns
    samples: list[list[int]] = [[] for _ in runs]
    for _ in range(rounds):
        for run, into in zip(runs, samples, strict=True):
            if before is not None:
                before()
            t = clock()
            run()
            into.append(clock() - t)
    return samples


def whole_stream(cls: Cleaner) -> tuple[Callable[[], None], int]:
    chunks = [
        frame(ROLE_DELTA, usage=None),
        *(frame({"content": f"tok{i:02d} "}, usage=None) for i in range(46)),
        b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],'
        b'"usage":null}\n\n',
        b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":47,"total_tokens":59}}\n\n',
        b"data: [DONE]\n\n",
    ]

    def run() -> None:
        cleaner = cls(served_model="gpt-4o-mini", keep_usage=False)
        for piece in chunks:
            cleaner.feed(piece)
        cleaner.finish()

    return run, len(chunks)


def load_cleaner(path: str) -> Cleaner:
    """`StreamCleaner` from another copy of sse.py."""
    spec = importlib.util.spec_from_file_location("sse_against", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls: Cleaner = module.StreamCleaner
    return cls


def us(samples: list[int], q: float = 0.5) -> float:
    ordered = sorted(samples)
    return ordered[int(len(ordered) * q)] / 1e3


def measure(
    cleaners: list[Cleaner], chunks: list[bytes], opts: argparse.Namespace
) -> list[list[float]]:
    """Per cleaner: [first output warm p50, cold p50, cold p90, opening warm p50, cold p50]
    in µs."""
    firsts = [to_first_output(cls, chunks) for cls in cleaners]
    openings = [to_first_content(cls, chunks) for cls in cleaners]
    for run in firsts + openings:
        run()  # check once, and import/compile everything first
    warm_first = sample_ns(firsts, opts.rounds, None)
    cold_first = sample_ns(firsts, opts.cold_rounds, opts.evict)
    warm_opening = sample_ns(openings, opts.rounds, None)
    cold_opening = sample_ns(openings, opts.cold_rounds, opts.evict)
    return [
        [us(warm_first[i]), us(cold_first[i]), us(cold_first[i], 0.9)]
        + [us(warm_opening[i]), us(cold_opening[i])]
        for i in range(len(cleaners))
    ]


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=20000, help="warm samples per opening")
    p.add_argument("--cold-rounds", type=int, default=2000, help="cold samples per opening")
    p.add_argument("--evict-mib", type=int, default=32, help="buffer walked between cold samples")
    p.add_argument("--against", metavar="FILE", help="also time the StreamCleaner in FILE")
    opts = p.parse_args()
    opts.evict = Evictor(opts.evict_mib)
    cleaners: dict[str, Cleaner] = {"this": StreamCleaner}
    if opts.against:
        cleaners = {"against": load_cleaner(opts.against), **cleaners}
    labels, classes = list(cleaners), list(cleaners.values())
    gc.disable()  # a collection inside a sample is noise, not the cleaner's cost
    print(f"{'µs per stream':22} first output: warm p50 | cold p50 | cold p90", end="")
    print("    opening: warm p50 | cold p50")
    for name, chunks in OPENINGS.items():
        print(name)
        for label, row in zip(labels, measure(classes, chunks, opts), strict=True):
            print(f"  {label:8} {row[0]:31.2f} {row[1]:10.2f} {row[2]:10.2f}", end="")
            print(f" {row[3]:22.2f} {row[4]:10.2f}")
    print("whole 50-chunk stream, warm, µs per chunk")
    runs = [whole_stream(cls) for cls in classes]
    samples = sample_ns([run for run, _ in runs], max(opts.rounds // 10, 100), None)
    for label, (_, chunks), taken in zip(labels, runs, samples, strict=True):
        print(f"  {label:8} {us(taken) / chunks:31.2f}")


if __name__ == "__main__":
    main()
