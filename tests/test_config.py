"""The config file: defaults, the PRODUCT.md example, errors that name file:line and key,
and saves that are atomic and round-trip."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from orca_desktop.config import (
    Config,
    ConfigError,
    TelemetryConfig,
    load_config,
    save_config,
)

PRODUCT_EXAMPLE = textwrap.dedent(
    """\
    [server]
    host = "127.0.0.1"
    port = 8787

    [providers.mock]                      # any id; presets exist for well-known ones
    kind = "openai-compatible"
    base_url = "http://127.0.0.1:9000/v1"
    models = ["fake-small", "fake-large"] # optional: which catalog models this provider serves

    [[models]]                            # add or override catalog entries
    id = "fake-small"
    provider = "mock"
    # upstream_id = "..."                 # what to send to the provider when it differs from id
    input_price = 0.15                    # USD per million tokens
    output_price = 0.60
    context_window = 128000
    capabilities = ["tools", "vision", "json_schema", "reasoning"]

    [routers.cheap]                       # reachable as model "orcarouter/cheap"
    strategy = "cheapest"                 # cheapest | fallback | fastest | rules
    models = ["fake-small", "fake-large"]

    [routing]
    reference_model = "gpt-4o"            # savings are measured against this model's price
    """
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_missing_file_is_the_default_config(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "nowhere" / "config.toml")

    assert cfg == Config()
    assert (cfg.server.host, cfg.server.port, cfg.server.max_body_mb) == ("127.0.0.1", 8787, 32)
    assert cfg.server.allowed_origins == []
    assert cfg.providers == {} and cfg.models == [] and cfg.routers == {}
    assert cfg.routing.reference_model == "gpt-4o"
    assert cfg.telemetry.retention_days == 30


def test_telemetry_retention_days_loads_and_zero_means_forever(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "[telemetry]\nretention_days = 7\n")).telemetry == (
        TelemetryConfig(retention_days=7)
    )
    assert load_config(write(tmp_path, "[telemetry]\nretention_days = 0\n")).telemetry == (
        TelemetryConfig(retention_days=0)
    )


def test_product_example_loads(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, PRODUCT_EXAMPLE))

    mock = cfg.providers["mock"]
    assert (mock.kind, mock.base_url) == ("openai-compatible", "http://127.0.0.1:9000/v1")
    assert mock.models == ["fake-small", "fake-large"]
    (small,) = cfg.models
    assert (small.id, small.provider, small.upstream_id) == ("fake-small", "mock", None)
    assert (small.input_price, small.output_price, small.context_window) == (0.15, 0.60, 128000)
    assert small.capabilities == ["tools", "vision", "json_schema", "reasoning"]
    assert cfg.routers["cheap"].strategy == "cheapest"
    assert cfg.routers["cheap"].models == ["fake-small", "fake-large"]
    assert cfg.routing.reference_model == "gpt-4o"


@pytest.mark.parametrize(
    ("text", "line", "key", "says"),
    [
        pytest.param(
            "[server]\nport = 70000\n", 2, "server.port", "less than or equal to 65535", id="range"
        ),
        pytest.param(
            '[server]\nhost = "127.0.0.1"\nport = "eighty"\n',
            3,
            "server.port",
            "integer",
            id="type",
        ),
        pytest.param('[server]\nhots = "x"\n', 2, "server.hots", "unknown key", id="unknown-key"),
        pytest.param('colour = "blue"\n', 1, "colour", "unknown key", id="unknown-top-level-key"),
        pytest.param(
            '[server]\nport = 1\n\n[providers.my-proxy]\nkind = "openai-compatible"\n'
            'base_url = "ftp://x"\n',
            6,
            "providers.my-proxy.base_url",
            "http:// or https://",
            id="provider-url",
        ),
        pytest.param(
            '[providers.mock]\nkind = "nope"\n',
            2,
            "providers.mock.kind",
            "openai-compatible",
            id="provider-kind",
        ),
        pytest.param(
            '[routers.cheap]\nstrategy = "random"\n',
            2,
            "routers.cheap.strategy",
            "cheapest",
            id="router-strategy",
        ),
        pytest.param(
            '[[models]]\nid = "a"\ninput_price = -1\n',
            3,
            "models.0.input_price",
            "greater than",
            id="model-price",
        ),
        pytest.param(
            "[telemetry]\nretention_days = -1\n",
            2,
            "telemetry.retention_days",
            "greater than or equal to 0",
            id="retention",
        ),
        pytest.param(
            "[telemetry]\nretention = 5\n",
            2,
            "telemetry.retention",
            "unknown key",
            id="telemetry-unknown-key",
        ),
    ],
)
def test_bad_value_or_unknown_key_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, says: str
) -> None:
    path = write(tmp_path, text)

    message = load_error(path)

    assert f"{path}:{line}: {key}" in message
    assert says in message


def test_error_in_a_later_array_table_names_its_own_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[models]]\nid = "a"\ninput_price = 1\n\n[[models]]\nid = "b"\ninput_price = -1\n',
    )
    assert f"{path}:7: models.1.input_price" in load_error(path)


def test_bad_list_item_names_the_line_of_its_list(tmp_path: Path) -> None:
    path = write(tmp_path, '[[models]]\nid = "a"\ncapabilities = ["telepathy"]\n')
    message = load_error(path)
    assert f"{path}:3: models.0.capabilities" in message
    assert "'tools'" in message


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 8787\nhost = "127.0.0.1\n')

    message = load_error(path)

    assert str(path) in message
    assert "invalid TOML" in message
    assert "line 3" in message


def test_unreadable_path_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").mkdir()
    assert str(tmp_path / "config.toml") in load_error(tmp_path / "config.toml")


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    original = load_config(write(tmp_path, PRODUCT_EXAMPLE))
    original.server.allowed_origins = ["http://localhost:3000"]
    target = tmp_path / "new" / "dir" / "config.toml"

    save_config(target, original)

    assert load_config(target) == original
    assert sorted(p.name for p in target.parent.iterdir()) == ["config.toml"]


def test_saving_the_default_config_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    save_config(target, Config())
    assert load_config(target) == Config()


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = write(tmp_path, PRODUCT_EXAMPLE)
    before = target.read_bytes()
    changed = load_config(target)
    changed.server.port = 9999

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, disk_full)  # config.py calls os.fsync / os.replace
    with pytest.raises(OSError):
        save_config(target, changed)
    monkeypatch.undo()

    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["config.toml"]
