"""What a request needs from a model, read from the raw request body.

Owns `Requirements` and `requirements_of`. Runs on every request before
routing, so it is a single pass over plain dicts: no pydantic, no
tokenizer. It never validates or rejects a body (the wire layer does that);
anything it cannot read counts as "not required".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orca_desktop.routing.tokens import scan_prompt

TOOLS = 1
VISION = 2
JSON_SCHEMA = 4
REASONING = 8
CAPABILITY_BITS: Mapping[str, int] = {
    "tools": TOOLS,
    "vision": VISION,
    "json_schema": JSON_SCHEMA,
    "reasoning": REASONING,
}


@dataclass(frozen=True, slots=True)
class Requirements:
    """The capabilities and room a request needs; `prompt_tokens` is an estimate."""

    tools: bool
    vision: bool
    json_schema: bool
    reasoning: bool
    prompt_tokens: int
    max_output_tokens: int | None

    @property
    def capability_mask(self) -> int:
        """The needed capabilities as bits (see CAPABILITY_BITS)."""
        return (
            (TOOLS if self.tools else 0)
            | (VISION if self.vision else 0)
            | (JSON_SCHEMA if self.json_schema else 0)
            | (REASONING if self.reasoning else 0)
        )

    @property
    def needed_context(self) -> int:
        """Tokens that must fit the context window: prompt plus requested output."""
        return self.prompt_tokens + (self.max_output_tokens or 0)


def requirements_of(body: Mapping[str, Any]) -> Requirements:
    """The requirements of an OpenAI chat (or Anthropic Messages) request body."""
    prompt_tokens, vision = scan_prompt(body)
    return Requirements(
        tools=_non_empty_list(body.get("tools")) or _non_empty_list(body.get("functions")),
        vision=vision,
        json_schema=_wants_json_schema(body.get("response_format")),
        reasoning=_wants_reasoning(body),
        prompt_tokens=prompt_tokens,
        max_output_tokens=_max_output(body),
    )


def _non_empty_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0


def _wants_json_schema(response_format: Any) -> bool:
    return isinstance(response_format, Mapping) and response_format.get("type") == "json_schema"


def _wants_reasoning(body: Mapping[str, Any]) -> bool:
    effort = body.get("reasoning_effort")
    if effort is not None and effort != "none":
        return True
    thinking = body.get("thinking")  # Anthropic: {"type": "enabled", "budget_tokens": N}
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def _max_output(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if type(value) is int and value > 0:  # bool is an int subclass: exclude it
            return value
    return None
