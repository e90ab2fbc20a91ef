"""What crosses HTTP: request validation, error shapes and dialect translation.

Pure functions and pydantic models only: never does I/O and never imports aiohttp,
the gateway or the GUI.
"""

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
    "anthropic_error_body",
    "openai_error_body",
    "parse_json_body",
    "validate_chat_request",
    "without_router_fields",
]
