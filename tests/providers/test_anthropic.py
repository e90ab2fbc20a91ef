"""The Anthropic adapter's addresses: base_url with or without /v1."""

from __future__ import annotations

import pytest

from orca_desktop.config import ServerConfig
from orca_desktop.providers.anthropic import AnthropicProvider, api_root
from orca_desktop.providers.base import ProviderSpec


@pytest.mark.parametrize(
    ("base", "root"),
    [
        ("https://api.anthropic.com/v1", "https://api.anthropic.com/v1"),
        ("https://api.anthropic.com", "https://api.anthropic.com/v1"),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000/v1"),
        ("http://127.0.0.1:9000/v1/", "http://127.0.0.1:9000/v1"),
    ],
)
def test_api_root_with_or_without_v1(base: str, root: str) -> None:
    assert api_root(base) == root


def test_the_messages_endpoint_hangs_off_the_root_and_there_is_no_chat_endpoint() -> None:
    spec = ProviderSpec(
        id="anth",
        label="anth",
        kind="anthropic",
        base_url="http://h:1",
        keyless=False,
        hosted_router=False,
        configured=True,
    )
    provider = AnthropicProvider(spec, ServerConfig())
    assert str(provider._messages_url) == "http://h:1/v1/messages"
    assert provider.api == "messages"
    assert not hasattr(provider, "_chat_url")  # never Anthropic's OpenAI-compatible beta
