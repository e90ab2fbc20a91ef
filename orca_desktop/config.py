"""The configuration file: pydantic models, TOML loading with precise errors, atomic saves.

The file never holds a secret. Unknown keys are errors (a typo must not be
silently ignored); an error names the file, the line and the key.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Literal

import platformdirs
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

APP_NAME = "orca-desktop"

ProviderKind = Literal[
    "openai",
    "anthropic",
    "gemini",
    "deepseek",
    "groq",
    "mistral",
    "xai",
    "together",
    "openrouter",
    "ollama",
    "lmstudio",
    "orcarouter",
    "orbitrage",
    "openai-compatible",
    "demo",
]
Capability = Literal["tools", "vision", "json_schema", "reasoning"]
Strategy = Literal["cheapest", "fallback", "fastest", "rules"]
RuleCondition = Literal["long_context", "has_images", "has_tools", "reasoning", "always"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    max_body_mb: float = Field(32, gt=0)
    allowed_origins: list[str] = Field(default_factory=list)
    connect_timeout_s: float = Field(5.0, gt=0)
    first_byte_timeout_s: float = Field(120.0, gt=0)
    idle_timeout_s: float = Field(60.0, gt=0)


class ProviderConfig(_Strict):
    """A provider entry; for a preset id (openai, groq, …) every field is optional."""

    kind: ProviderKind | None = None
    base_url: str | None = None
    models: list[str] | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value


class ModelConfig(_Strict):
    """Adds a model to the catalog or overrides fields of a known one."""

    id: str = Field(min_length=1)
    provider: str | None = None
    upstream_id: str | None = None
    input_price: float | None = Field(None, ge=0)
    output_price: float | None = Field(None, ge=0)
    cached_input_price: float | None = Field(None, ge=0)
    context_window: int | None = Field(None, ge=1)
    max_output_tokens: int | None = Field(None, ge=1)
    capabilities: list[Capability] | None = None


class RuleConfig(_Strict):
    """`when` the condition holds, route to `use` (a model id or `orcarouter/NAME`)."""

    when: RuleCondition
    use: str = Field(min_length=1)
    min_tokens: int | None = Field(None, ge=1, description="threshold for long_context")


class RouterConfig(_Strict):
    strategy: Strategy
    models: list[str] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)
    default: str | None = Field(None, description="rules: where to go when no rule matches")


class RoutingConfig(_Strict):
    reference_model: str = "gpt-4o"
    default_max_output_tokens: int = Field(
        512, ge=1, description="expected output tokens when the client sets no max_tokens"
    )
    anthropic_cache: bool = Field(
        True,
        description="when translating to Anthropic, put prompt-cache breakpoints on the last"
        " system block, the last tool and the last user turn but one",
    )


class TelemetryConfig(_Strict):
    retention_days: int = Field(
        30,
        ge=0,
        description="days of request records kept after the day they were made (UTC);"
        " older ones become daily totals. 0 keeps every record forever",
    )


class Config(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: list[ModelConfig] = Field(default_factory=list)
    routers: dict[str, RouterConfig] = Field(default_factory=dict)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)


class ConfigError(Exception):
    """The config file cannot be used; the message names the file, line and key."""


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def load_config(path: Path) -> Config:
    """Read and validate `path`; a missing file is the default config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, text, exc)) from None


def save_config(path: Path, config: Config) -> None:
    """Write atomically: a crash leaves either the old file or the new one, never half."""
    data = config.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    payload = tomli_w.dumps(data).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _describe(path: Path, text: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc)
        line = _line_of(text, loc)
        where = f"{path}:{line}" if line else str(path)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{where}: {key}: {msg}")
    return "\n".join(lines)


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line of the key at `loc` (tomllib reports no positions).

    Walks the table headers: `[a.b]` for tables, the N-th `[[a]]` for entry N
    of an array of tables; then finds `key =` inside that table. Falls back to
    the table's header line (e.g. for an error inside a list value).
    """
    if not loc:
        return None
    lines = text.splitlines()
    # split loc into the table path (with an optional array index) and the key
    table: list[str] = []
    index: int | None = None
    rest = list(loc)
    while rest and not (len(rest) >= 1 and table and _is_key_of(lines, table, index, rest[0])):
        part = rest.pop(0)
        if part.isdigit():
            index = int(part)
            break
        table.append(part)
    key = rest[0] if rest else (table.pop() if table else None)
    start = _header_line(lines, ".".join(table), index) if table else -1
    if table and start is None:
        return None
    begin = (start or 0) + 1 if table else 0
    key_re = re.compile(r"^\s*\"?" + re.escape(key or "") + r"\"?\s*=") if key else None
    for i in range(begin, len(lines)):
        if lines[i].lstrip().startswith("["):
            if table:
                break
            return None
        if key_re is not None and key_re.match(lines[i]):
            return i + 1
    return start + 1 if table and start is not None and start >= 0 else None


def _header_line(lines: list[str], dotted: str, index: int | None) -> int | None:
    seen = -1
    for i, raw in enumerate(lines):
        stripped = raw.split("#", 1)[0].strip()
        if not stripped.startswith("["):
            continue
        name = stripped.strip("[]").replace('"', "").replace(" ", "")
        if name != dotted:
            continue
        seen += 1
        if index is None or seen == index:
            return i
    return None


def _is_key_of(lines: list[str], table: list[str], index: int | None, key: str) -> bool:
    """True when `key` is a plain key inside table `table` (not a deeper table name)."""
    header = _header_line(lines, ".".join(table), index)
    if header is None:
        return False
    key_re = re.compile(r"^\s*\"?" + re.escape(key) + r"\"?\s*=")
    for raw in lines[header + 1 :]:
        if raw.lstrip().startswith("["):
            return False
        if key_re.match(raw):
            return True
    return False
