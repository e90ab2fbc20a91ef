"""Built-in provider presets: well-known providers usable without writing them in the config.

A preset becomes reachable once it has a key (keyless local ones once they are
configured). `[providers.ID]` in the config may override any field.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Preset:
    id: str
    label: str
    kind: str
    base_url: str
    keyless: bool = False
    hosted_router: bool = False
    """A hosted router serves other providers' models when their own key is missing (BYOK false)."""


PRESETS: dict[str, Preset] = {
    p.id: p
    for p in (
        Preset("openai", "OpenAI", "openai", "https://api.openai.com/v1"),
        Preset("anthropic", "Anthropic", "anthropic", "https://api.anthropic.com/v1"),
        Preset(
            "gemini",
            "Google Gemini",
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta/openai",
        ),
        Preset("deepseek", "DeepSeek", "deepseek", "https://api.deepseek.com/v1"),
        Preset("groq", "Groq", "groq", "https://api.groq.com/openai/v1"),
        Preset("mistral", "Mistral", "mistral", "https://api.mistral.ai/v1"),
        Preset("xai", "xAI", "xai", "https://api.x.ai/v1"),
        Preset("together", "Together AI", "together", "https://api.together.xyz/v1"),
        Preset("openrouter", "OpenRouter", "openrouter", "https://openrouter.ai/api/v1"),
        Preset("ollama", "Ollama (local)", "ollama", "http://localhost:11434/v1", keyless=True),
        Preset(
            "lmstudio", "LM Studio (local)", "lmstudio", "http://localhost:1234/v1", keyless=True
        ),
        Preset(
            "orcarouter",
            "OrcaRouter (hosted router)",
            "orcarouter",
            "https://api.orcarouter.ai/v1",
            hosted_router=True,
        ),
        Preset(
            "orbitrage",
            "Orbitrage (hosted router)",
            "orbitrage",
            "https://api.orbitrage.ai/v1",
            hosted_router=True,
        ),
    )
}

KEYLESS_KINDS = frozenset({"ollama", "lmstudio"})
HOSTED_ROUTER_KINDS = frozenset({"orcarouter", "orbitrage"})
