"""The Core facade the window calls: config changes apply at once and never break the file."""

from __future__ import annotations

import aiohttp
import pytest

from orca_desktop.config import ConfigError, RouterConfig
from tests.e2e.conftest import Gateway, GatewayFactory
from tests.fake_provider import Reply

pytestmark = pytest.mark.asyncio


async def test_a_saved_router_answers_at_once(gateway: Gateway) -> None:
    cfg = gateway.core.config.model_copy(deep=True)
    cfg.routers["quick"] = RouterConfig(strategy="fallback", models=["fake-mid", "fake-small"])
    await gateway.core.save_config(cfg)
    assert "[routers.quick]" in gateway.config_path.read_text()
    gateway.fake.script("fake-mid", Reply(content="from the new router"))
    async with aiohttp.ClientSession(headers=gateway.auth) as http:
        body = {"model": "orcarouter/quick", "messages": [{"role": "user", "content": "hi"}]}
        async with http.post(f"{gateway.base_url}/chat/completions", json=body) as resp:
            assert resp.status == 200
            assert resp.headers["X-Orca-Route"] == "quick/fallback"
            assert (await resp.json())["choices"][0]["message"]["content"] == "from the new router"


async def test_a_config_the_router_rejects_is_not_written(gateway: Gateway) -> None:
    before = gateway.config_path.read_text()
    cfg = gateway.core.config.model_copy(deep=True)
    cfg.routers["broken"] = RouterConfig(strategy="cheapest", models=["no-such-model"])
    with pytest.raises(ConfigError):
        await gateway.core.save_config(cfg)
    assert gateway.config_path.read_text() == before
    assert "broken" not in gateway.core.config.routers


async def test_a_port_change_moves_the_listener_without_a_restart(gateway: Gateway) -> None:
    import socket

    old_root = gateway.root
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        new_port = sock.getsockname()[1]
    await gateway.core.set_port(new_port)
    assert gateway.core.base_url == f"http://127.0.0.1:{new_port}/v1"
    assert f"port = {new_port}" in gateway.config_path.read_text()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{new_port}/healthz") as resp:
            assert resp.status == 200
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(f"{old_root}/healthz"):
                pass


async def test_an_unknown_reference_model_is_refused_and_not_written(gateway: Gateway) -> None:
    before = gateway.config_path.read_text()
    for wrong, reason in [("fake-larg", "unknown model"), ("mock/fake-small", "plain model id")]:
        cfg = gateway.core.config.model_copy(deep=True)
        cfg.routing.reference_model = wrong
        with pytest.raises(ConfigError, match=reason):
            gateway.core.check_config(cfg)
        with pytest.raises(ConfigError, match=rf"\[routing\] reference_model: .*{reason}"):
            await gateway.core.save_config(cfg)
        assert gateway.config_path.read_text() == before
    assert gateway.core.reference_model_error("fake-small") is None
    cfg = gateway.core.config.model_copy(deep=True)
    cfg.routing.reference_model = "fake-small"
    await gateway.core.save_config(cfg)
    assert 'reference_model = "fake-small"' in gateway.config_path.read_text()


async def test_a_file_naming_an_unknown_reference_still_takes_a_port_change(
    gateway_factory: GatewayFactory,
) -> None:
    import socket

    gw = await gateway_factory(reference="retired-model")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        new_port = sock.getsockname()[1]
    await gw.core.set_port(new_port)
    assert f"port = {new_port}" in gw.config_path.read_text()
    assert 'reference_model = "retired-model"' in gw.config_path.read_text()
