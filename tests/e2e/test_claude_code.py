"""Claude Code itself (`claude -p "say hi"`) through the real gateway to the fake provider.

Routed once to an `anthropic`-kind provider (native: the request arrives on
/v1/messages with its `role: "system"` turn) and once to the OpenAI-compatible
`mock` (translated: /v1/chat/completions with a system message carrying the
environment text). The binary comes from ORCA_TEST_CLAUDE (.ci/run installs the
pinned version into .ci-cache/npm and exports it) or that default path; without
it the tests skip.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import TOKEN, Gateway, GatewayFactory
from tests.e2e.test_messages_anthropic_sdk import with_anthropic_provider
from tests.fake_provider import Reply

pytestmark = pytest.mark.asyncio

CLAUDE_PIN = "2.1.332"
REPO = Path(__file__).resolve().parents[2]
DEFAULT_CLAUDE = REPO / ".ci-cache/npm/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
CLAUDE = Path(os.environ.get("ORCA_TEST_CLAUDE") or DEFAULT_CLAUDE)
INSTALL = f"npm install --prefix .ci-cache/npm @anthropic-ai/claude-code@{CLAUDE_PIN}"
REPLY = "hello from the fake provider"

needs_claude = pytest.mark.skipif(
    not os.access(CLAUDE, os.X_OK), reason=f"Claude Code not found at {CLAUDE}; run: {INSTALL}"
)


async def run_claude(gw: Gateway, model: str, home: Path) -> tuple[int, str, str]:
    """`claude -p "say hi" --model <model>` with an isolated HOME and a bare environment."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "TERM": "dumb",
        "ANTHROPIC_BASE_URL": gw.root,
        "ANTHROPIC_AUTH_TOKEN": TOKEN,
    }
    proc = await asyncio.create_subprocess_exec(
        str(CLAUDE), "-p", "say hi", "--model", model,
        env=env, cwd=home, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


@needs_claude
async def test_claude_code_reaches_an_anthropic_provider_natively_with_its_system_turn(
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    test_secrets: Any,
    tmp_path: Path,
) -> None:
    gw = await with_anthropic_provider(gateway_factory, monkeypatch, test_secrets)
    gw.fake.script("claude-fake-20250101", Reply(content=REPLY))
    rc, out, err = await run_claude(gw, "claude-fake", tmp_path / "home")
    assert rc == 0, (out, err)
    assert REPLY in out, (out, err)
    posts = [r for r in gw.fake.requests if r.method == "POST"]
    assert posts and all(r.path == "/v1/messages" for r in posts), [r.path for r in posts]
    body = posts[-1].body
    assert body["model"] == "claude-fake-20250101"
    assert any(m["role"] == "system" for m in body["messages"]), [
        m["role"] for m in body["messages"]
    ]
    assert posts[-1].headers.get("anthropic-beta")


@needs_claude
async def test_claude_code_reaches_an_openai_provider_translated_with_the_environment_text(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gw = await gateway_factory()
    gw.fake.script("fake-small", Reply(content=REPLY))
    rc, out, err = await run_claude(gw, "fake-small", tmp_path / "home")
    assert rc == 0, (out, err)
    assert REPLY in out, (out, err)
    posts = [r for r in gw.fake.requests if r.method == "POST"]
    assert posts and all(r.path == "/v1/chat/completions" for r in posts), [r.path for r in posts]
    systems = [m["content"] for m in posts[-1].body["messages"] if m["role"] == "system"]
    texts = [c if isinstance(c, str) else "".join(p.get("text", "") for p in c) for c in systems]
    assert any("# Environment" in t for t in texts), [t[:120] for t in texts]
