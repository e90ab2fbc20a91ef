"""`orca-desktop` run as a new user would: real processes, real keyring, the openai SDK.

The keyring is the real Secret Service (gnome-keyring in CI's private D-Bus
session) under a throwaway service name; the provider is the scripted fake.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.conftest import ROUTED_HEADERS, write_config
from tests.fake_provider import FakeProvider, Reply

pytestmark = pytest.mark.asyncio

CLI = [sys.executable, "-m", "orca_desktop"]


def cli_env(service: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ORCA_KEY_") and k != "ORCA_DESKTOP_TOKEN"
    }
    env["ORCA_KEYRING_SERVICE"] = service
    env.update(extra)
    return env


async def run(
    *args: str, env: dict[str, str], stdin: bytes | None = None, timeout: float = 30
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class Served:
    """A running `orca-desktop serve` and what it printed on start-up."""

    def __init__(self, proc: asyncio.subprocess.Process, banner: str, base_url: str) -> None:
        self.proc, self.banner, self.base_url = proc, banner, base_url

    async def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 15)


async def start_serve(*args: str, env: dict[str, str]) -> Served:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "serve",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    banner = ""
    while "token" not in banner:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            err = await proc.stderr.read() if proc.stderr else b""
            raise AssertionError(f"serve exited: {banner}\n{err.decode()}")
        banner += line.decode()
    match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", banner)
    assert match, banner
    return Served(proc, banner, match.group(1))


@pytest.mark.keyring
async def test_new_user_sets_a_key_and_serves_the_openai_sdk(
    require_secret_service: None, isolated_keyring_service: str, tmp_path: Path, test_secrets: Any
) -> None:
    key = test_secrets.new("mock")
    env = cli_env(isolated_keyring_service)
    async with FakeProvider(require_key=key) as fake:
        fake.script(
            "fake-small", Reply(content="hello there", prompt_tokens=30, completion_tokens=2)
        )
        config = tmp_path / "config.toml"
        data = test_secrets.watch(tmp_path / "data")
        write_config(config, fake.base_url)
        common = ("--config", str(config), "--data-dir", str(data))

        rc, out, err = await run(
            "keys", "set", "mock", *common, env=env, stdin=key.encode() + b"\n"
        )
        assert rc == 0, err
        assert key not in out + err
        rc, out, _ = await run("keys", "list", *common, env=env)
        assert rc == 0 and re.search(r"^mock\s+in keyring", out, re.M), out
        assert key not in out
        rc, out, _ = await run("keys", "test", "mock", *common, env=env)
        assert rc == 0 and "key works" in out

        rc, token, _ = await run("token", env=env)
        token = test_secrets.add(token.strip())
        assert rc == 0 and token.startswith("sk-orca-")

        served = await start_serve(*common, "--port", "0", env=env)
        try:
            assert token not in served.banner and "orca-desktop token" in served.banner
            async with openai.AsyncOpenAI(
                base_url=served.base_url, api_key=token, max_retries=0
            ) as oa:
                raw = await oa.chat.completions.with_raw_response.create(
                    model="fake-small", messages=[{"role": "user", "content": "hi"}]
                )
                assert raw.parse().choices[0].message.content == "hello there"
                for name in ROUTED_HEADERS:
                    assert raw.headers.get(name), name
                assert raw.headers["x-orca-byok"] == "true"
                stream = await oa.chat.completions.create(
                    model="fake-small", messages=[{"role": "user", "content": "hi"}], stream=True
                )
                text = "".join(
                    [c.choices[0].delta.content or "" async for c in stream if c.choices]
                )
                assert text == "hello there"
            # the key came from the Secret Service through the reader child: the gateway
            # itself never loaded the keyring backend (cryptography's compiled module)
            maps = Path(f"/proc/{served.proc.pid}/maps").read_text()
            assert "cryptography" not in maps and "_cffi_backend" not in maps
        finally:
            assert await served.stop() == 0
        assert fake.received_for("fake-small")[0].bearer == key

        rc, out, _ = await run("keys", "delete", "mock", *common, env=env)
        assert rc == 0
        rc, out, _ = await run("keys", "list", *common, env=env)
        assert re.search(r"^mock\s+missing", out, re.M), out


@pytest.mark.keyring
async def test_keys_test_without_a_key_in_a_working_keyring_names_both_ways_to_give_one(
    require_secret_service: None, isolated_keyring_service: str, tmp_path: Path
) -> None:
    env = cli_env(isolated_keyring_service)
    rc, out, err = await run(
        "keys", "test", "anthropic", "--config", str(tmp_path / "none.toml"), env=env
    )
    assert rc == 1
    assert "No key for anthropic: none in the keyring" in err and "ORCA_KEY_ANTHROPIC" in err
    assert "orca-desktop keys set anthropic" in err


async def test_keys_test_reports_a_rejected_key(tmp_path: Path, test_secrets: Any) -> None:
    async with FakeProvider(require_key=test_secrets.new("right")) as fake:
        config = tmp_path / "config.toml"
        write_config(config, fake.base_url)
        env = cli_env("unused", ORCA_KEY_MOCK=test_secrets.new("wrong"))
        rc, out, err = await run("keys", "test", "mock", "--config", str(config), env=env)
    assert rc == 1 and "rejected" in out


async def test_keys_set_without_a_keyring_fails_and_says_how_to_fix(
    tmp_path: Path, test_secrets: Any
) -> None:
    key = test_secrets.new("nokeyring")
    env = cli_env("unused", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    rc, out, err = await run(
        "keys",
        "set",
        "openai",
        "--config",
        str(tmp_path / "none.toml"),
        env=env,
        stdin=key.encode(),
    )
    assert rc != 0
    assert "No secure OS keyring" in err and "GNOME Keyring" in err
    assert key not in out + err


async def test_keys_test_without_a_keyring_says_this_provider_has_no_key_and_both_fixes(
    tmp_path: Path,
) -> None:
    env = cli_env("unused", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    rc, out, err = await run(
        "keys", "test", "openai", "--config", str(tmp_path / "none.toml"), env=env
    )
    assert rc == 1
    assert "No key for openai" in err
    assert "keyring is not usable" in err and "ORCA_KEY_OPENAI" in err
    assert "orca-desktop keys set openai" in err


async def test_keys_test_without_a_keyring_still_tests_the_environment_key(
    tmp_path: Path, test_secrets: Any
) -> None:
    key = test_secrets.new("envkey")
    async with FakeProvider(require_key=key) as fake:
        config = tmp_path / "config.toml"
        write_config(config, fake.base_url)
        env = cli_env(
            "unused", ORCA_KEY_MOCK=key, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"
        )
        rc, out, err = await run("keys", "test", "mock", "--config", str(config), env=env)
    assert rc == 0, err
    assert "key works" in out


async def test_serve_demo_routes_without_keys_or_network(tmp_path: Path) -> None:
    env = cli_env(
        "unused",
        ORCA_DESKTOP_TOKEN="sk-orca-demo-test-token",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    served = await start_serve(
        "--demo",
        "--config",
        str(tmp_path / "none.toml"),
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        "0",
        env=env,
    )
    try:
        assert "DEMO" in served.banner
        async with openai.AsyncOpenAI(
            base_url=served.base_url, api_key="sk-orca-demo-test-token", max_retries=2
        ) as oa:
            models = [m async for m in oa.models.list()]
            assert models and all("demo" in m.id for m in models)
            raw = await oa.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "hi"}]
            )
            assert raw.headers["x-orca-route"] == "auto/cheapest"
            assert "demo" in raw.headers["x-orca-provider"]
            assert raw.parse().choices[0].message.content
    finally:
        assert await served.stop() == 0


@pytest.mark.parametrize("command", [[], ["serve"], ["keys"], ["keys", "set"], ["token"], ["tail"]])
async def test_every_command_has_help(command: list[str]) -> None:
    rc, out, _ = await run(*command, "--help", env=cli_env("unused"))
    assert rc == 0 and "usage: orca-desktop" in out


async def test_keys_test_asks_an_anthropic_provider_natively(
    tmp_path: Path, test_secrets: Any
) -> None:
    """An `anthropic` provider, given without `/v1` as PRODUCT.md allows: its models
    endpoint is asked with `x-api-key` and `anthropic-version`, not an OpenAI Bearer."""
    key = test_secrets.new("anthropic-key")
    async with FakeProvider(require_key=key) as fake:
        config = tmp_path / "config.toml"
        root = fake.base_url.removesuffix("/v1")
        write_config(
            config,
            fake.base_url,
            extra=f'[providers.claude]\nkind = "anthropic"\nbase_url = "{root}"\n',
        )
        env = cli_env("unused", ORCA_KEY_CLAUDE=key)
        rc, out, err = await run("keys", "test", "claude", "--config", str(config), env=env)
        assert rc == 0 and "key works" in out, out + err
        (asked,) = [r for r in fake.requests if r.api == "models"]
        assert asked.api_key == key and asked.bearer is None
        assert asked.headers.get("anthropic-version")
        assert key not in out + err
