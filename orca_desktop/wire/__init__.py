"""What crosses HTTP: request validation, error shapes and dialect translation.

Pure functions and pydantic models only: never does I/O and never imports aiohttp,
the gateway or the GUI.
"""

from orca_desktop.wire.anthropic import (
    MessagesRequest,
    OpenAIToAnthropicStream,
    anthropic_to_openai_request,
    openai_to_anthropic_response,
    validate_messages_request,
)
from orca_desktop.wire.errors import ApiError, anthropic_error_body, openai_error_body
from orca_desktop.wire.openai import (
    ChatRequest,
    parse_json_body,
    validate_chat_request,
    without_router_fields,
)

__all__ = [
    "ApiError",
    "ChatRequest",
    "MessagesRequest",
    "OpenAIToAnthropicStream",
    "anthropic_to_openai_request",
    "anthropic_error_body",
    "openai_error_body",
    "openai_to_anthropic_response",
    "parse_json_body",
    "validate_chat_request",
    "validate_messages_request",
    "without_router_fields",
]
