"""What a request needs from a model, read from the raw request body.

Owns `Requirements` and `requirements_of`. Runs on every request before
routing: a few dict lookups, and the prompt scan (a single pass over plain
dicts: no pydantic, no tokenizer) only when routing needs its result. It
never validates or rejects a body (the wire layer does that); anything it
cannot read counts as "not required".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orca_desktop.routing.tokens import IMAGE_TOKENS, REPLY_PRIMING_TOKENS, scan_prompt

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


class Requirements:
    """The capabilities and room a request needs; `prompt_tokens` is an estimate.

    Read-only once made. `requirements_of` fills in the cheap fields at once and
    scans the prompt (for `vision` and `prompt_tokens`) only when one of those is
    first read: a request pinned to one model is routed without that scan, and its
    estimate is made after the request went upstream.
    """

    __slots__ = (
        "_body",
        "_prompt_tokens",
        "_raw",
        "_vision",
        "json_schema",
        "max_output_tokens",
        "reasoning",
        "tools",
    )

    def __init__(
        self,
        tools: bool,
        vision: bool,
        json_schema: bool,
        reasoning: bool,
        prompt_tokens: int,
        max_output_tokens: int | None,
    ) -> None:
        self.tools = tools
        self.json_schema = json_schema
        self.reasoning = reasoning
        self.max_output_tokens = max_output_tokens
        self._vision: bool | None = vision
        self._prompt_tokens: int | None = prompt_tokens
        self._body: Mapping[str, Any] | None = None
        self._raw: bytes | None = None

    @property
    def vision(self) -> bool:
        """True when the prompt holds an image."""
        if self._vision is None:
            raw = self._raw
            if raw is not None and b"image" not in raw and b"\\u" not in raw:
                # every image part names its type ("image", "image_url", "input_image")
                # in the JSON text, literally or with a \u escape
                self._vision = False
            else:
                self._scan()
        return bool(self._vision)

    @property
    def prompt_tokens(self) -> int:
        """The offline estimate of the prompt's tokens (routing.tokens)."""
        if self._prompt_tokens is None:
            self._scan()
        return self._prompt_tokens or 0

    @property
    def prompt_tokens_at_most(self) -> int:
        """An upper bound of `prompt_tokens`, without the scan when the JSON text is known.

        Each byte of the JSON text adds at most 2 estimated tokens (message
        overhead, text, tool schemas), each image part 850; every image part
        spells "image" in its type or escapes a letter of it with \\u.
        """
        if self._prompt_tokens is not None:
            return self._prompt_tokens
        raw = self._raw
        if raw is None:
            return self.prompt_tokens
        images = raw.count(b"image") + raw.count(b"\\u")
        return REPLY_PRIMING_TOKENS + 2 * len(raw) + IMAGE_TOKENS * images

    @property
    def capability_mask(self) -> int:
        """The needed capabilities as bits (see CAPABILITY_BITS)."""
        return self.mask_without_vision | (VISION if self.vision else 0)

    @property
    def mask_without_vision(self) -> int:
        """The needed capabilities that need no prompt scan, as bits."""
        return (
            (TOOLS if self.tools else 0)
            | (JSON_SCHEMA if self.json_schema else 0)
            | (REASONING if self.reasoning else 0)
        )

    @property
    def needed_context(self) -> int:
        """Tokens that must fit the context window: prompt plus requested output."""
        return self.prompt_tokens + (self.max_output_tokens or 0)

    def _scan(self) -> None:
        self._prompt_tokens, self._vision = scan_prompt(self._body or {})
        self._body = self._raw = None

    def _values(self) -> tuple[bool, bool, bool, bool, int, int | None]:
        return (
            self.tools,
            self.vision,
            self.json_schema,
            self.reasoning,
            self.prompt_tokens,
            self.max_output_tokens,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Requirements):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        tools, vision, json_schema, reasoning, prompt, output = self._values()
        return (
            f"Requirements(tools={tools}, vision={vision}, json_schema={json_schema}, "
            f"reasoning={reasoning}, prompt_tokens={prompt}, max_output_tokens={output})"
        )


def requirements_of(body: Mapping[str, Any], *, raw: bytes | None = None) -> Requirements:
    """The requirements of an OpenAI chat (or Anthropic Messages) request body.

    `raw`, the JSON text `body` was parsed from, lets `vision` and
    `prompt_tokens_at_most` answer without scanning the prompt. The prompt is
    scanned when first needed, so `body` must not change until then.
    """
    req = Requirements.__new__(Requirements)
    req.tools = _non_empty_list(body.get("tools")) or _non_empty_list(body.get("functions"))
    req.json_schema = _wants_json_schema(body.get("response_format"))
    req.reasoning = _wants_reasoning(body)
    req.max_output_tokens = _max_output(body)
    req._vision = req._prompt_tokens = None
    req._body = body
    req._raw = raw
    return req


def _non_empty_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0


def _wants_json_schema(response_format: Any) -> bool:
    return isinstance(response_format, Mapping) and response_format.get("type") == "json_schema"


def _wants_reasoning(body: Mapping[str, Any]) -> bool:
    effort = body.get("reasoning_effort")
    if effort is not None and effort != "none":
        return True
    # Anthropic: {"type": "enabled", "budget_tokens": N} asks for thinking; "adaptive"
    # (Claude Code's default) lets the model decide, so any model can serve it
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") == "enabled"


def _max_output(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if type(value) is int and value > 0:  # bool is an int subclass: exclude it
            return value
    return None
