"""Request checks of the fake Messages API: refuse what the real API refuses.

Why: a fake that accepts anything lets a client bug (a forgotten max_tokens,
an empty transcript block, a fifth cache breakpoint, a leftover `temperature`)
pass every test and fail in production. Each check raises the API's 400
invalid_request_error (401 for credentials), with the API's wording where known.

Deliberate choices, from the SDK 2.10.0 source (anthropic/resources/messages/messages.py):
- Top-level fields are the ones `Messages.create` sends; anything else, notably
  `temperature`, `top_p` and `top_k` (absent from SDK 2.10 altogether; they can
  only arrive through `extra_body`), gets "<name>: Extra inputs are not permitted".
- Consecutive turns of the same role are accepted: the SDK documents that the
  API combines them. `strict_roles=True` restores the old rule (first message
  from the user, roles alternate) for tests that want it.
- `max_tokens` may be 0 (the SDK documents it as "pre-warm the cache").
- Streaming is not implemented by the fake: `stream: true` is refused with a
  message saying so, rather than answered wrongly.
"""

from __future__ import annotations

from typing import Any

from . import errors

CREATE_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "cache_control",
        "container",
        "diagnostics",
        "inference_geo",
        "metadata",
        "output_config",
        "service_tier",
        "speed",
        "stop_sequences",
        "stream",
        "system",
        "thinking",
        "tool_choice",
        "tools",
    }
)
COUNT_FIELDS = frozenset(
    {"model", "messages", "cache_control", "output_config", "speed", "system", "thinking", "tool_choice", "tools"}
)
MAX_CACHE_BREAKPOINTS = 4
ROLES = ("user", "assistant")


def check_auth(headers, api_keys: frozenset[str] | None) -> None:
    """x-api-key (what the API documents) or `Authorization: Bearer` (what SDK 2.10 sends)."""
    key = headers.get("x-api-key")
    bearer = headers.get("Authorization", "")
    if not key and bearer.startswith("Bearer "):
        key = bearer[7:].strip()
    if not key:
        raise errors.missing_api_key()
    if api_keys is not None and key not in api_keys:
        raise errors.invalid_api_key()
    if not headers.get("anthropic-version"):
        raise errors.invalid_request("anthropic-version: header is required")


def check_create(body: Any, *, strict_roles: bool, max_output_tokens: int) -> None:
    _check_object(body, CREATE_FIELDS, ("model", "messages", "max_tokens"))
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise errors.invalid_request("max_tokens: Input should be a valid integer greater than or equal to 0")
    if max_tokens > max_output_tokens:
        raise errors.invalid_request(
            f"max_tokens: {max_tokens} > {max_output_tokens}, which is the maximum allowed number of output "
            f"tokens for {body['model']}"
        )
    if body.get("stream"):
        raise errors.invalid_request("stream: the fake Messages API does not implement streaming")
    _check_common(body, strict_roles)


def check_count(body: Any, *, strict_roles: bool) -> None:
    _check_object(body, COUNT_FIELDS, ("model", "messages"))
    _check_common(body, strict_roles)


def _check_object(body: Any, allowed: frozenset[str], required: tuple[str, ...]) -> None:
    if not isinstance(body, dict):
        raise errors.invalid_request("There was an error parsing the body of your request: expected a JSON object")
    for name in required:
        if name not in body:
            raise errors.invalid_request(f"{name}: Field required")
    for name in body:
        if name not in allowed:
            raise errors.invalid_request(f"{name}: Extra inputs are not permitted")
    if not isinstance(body["model"], str) or not body["model"]:
        raise errors.invalid_request("model: Input should be a valid string")


def _check_common(body: dict, strict_roles: bool) -> None:
    _check_messages(body["messages"], strict_roles)
    _check_system(body.get("system"))
    _check_tools(body)
    _check_output_config(body.get("output_config"))
    _check_cache_controls(body)


def _check_messages(messages: Any, strict_roles: bool) -> None:
    if not isinstance(messages, list):
        raise errors.invalid_request("messages: Input should be a valid list")
    if not messages:
        raise errors.invalid_request("messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise errors.invalid_request(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise errors.invalid_request(f"messages.{i}.content: Field required")
        final_assistant = i == len(messages) - 1 and message["role"] == "assistant"
        _check_content(message["content"], f"messages.{i}", allow_empty=final_assistant)
    if strict_roles:
        if messages[0]["role"] != "user":
            raise errors.invalid_request('messages: first message must use the "user" role')
        for prev, cur in zip(messages, messages[1:], strict=False):
            if prev["role"] == cur["role"]:
                raise errors.invalid_request(
                    f'messages: roles must alternate between "user" and "assistant", '
                    f'but found multiple "{cur["role"]}" roles in a row'
                )


def _check_content(content: Any, where: str, *, allow_empty: bool) -> None:
    if isinstance(content, str):
        if not content and not allow_empty:
            raise errors.invalid_request(
                f"{where}: all messages must have non-empty content except for the optional final assistant message"
            )
        return
    if not isinstance(content, list) or (not content and not allow_empty):
        raise errors.invalid_request(
            f"{where}: all messages must have non-empty content except for the optional final assistant message"
        )
    for j, block in enumerate(content):
        _check_block(block, f"{where}.content.{j}")


def _check_block(block: Any, where: str) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise errors.invalid_request(f"{where}.type: Field required")
    if block["type"] == "text":
        if not isinstance(block.get("text"), str):
            raise errors.invalid_request(f"{where}.text: Field required")
        if not block["text"]:
            raise errors.invalid_request("messages: text content blocks must be non-empty")
    control = block.get("cache_control")
    if control is not None and (
        not isinstance(control, dict)
        or control.get("type") != "ephemeral"
        or control.get("ttl", "5m") not in ("5m", "1h")
    ):
        raise errors.invalid_request(
            f"{where}.cache_control: Input should be {{'type': 'ephemeral', 'ttl': '5m' | '1h'}}"
        )


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise errors.invalid_request("system: Input should be a valid string or a list of text blocks")
    for j, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise errors.invalid_request(f"system.{j}.type: Input should be 'text'")
        _check_block(block, f"system.{j}")


def _check_tools(body: dict) -> None:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise errors.invalid_request("tools: Input should be a valid list")
    names = []
    for j, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise errors.invalid_request(f"tools.{j}.name: Field required")
        if "type" not in tool and not isinstance(tool.get("input_schema"), dict):
            raise errors.invalid_request(f"tools.{j}.custom.input_schema: Field required")
        names.append(tool["name"])
    if len(set(names)) != len(names):
        raise errors.invalid_request("tools: Tool names must be unique.")
    choice = body.get("tool_choice")
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise errors.invalid_request("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if kind == "tool" and choice.get("name") not in names:
        raise errors.invalid_request(f"tool_choice: Tool '{choice.get('name')}' not found in tools")
    if kind in ("any", "tool") and not names:
        raise errors.invalid_request("tool_choice: tool_choice may only be specified while providing tools.")
    thinking = body.get("thinking")
    if kind in ("any", "tool") and isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        raise errors.invalid_request("Thinking may not be enabled when tool_choice forces tool use.")


def _check_output_config(config: Any) -> None:
    if config is None:
        return
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise errors.invalid_request("output_config.format.type: Input should be 'json_schema'")
    if not isinstance(fmt.get("schema"), dict):
        raise errors.invalid_request("output_config.format.schema: Field required")


def _check_cache_controls(body: dict) -> None:
    found = 1 if body.get("cache_control") else 0
    blocks: list[Any] = list(body.get("tools") or [])
    blocks += body["system"] if isinstance(body.get("system"), list) else []
    for message in body["messages"]:
        blocks += message["content"] if isinstance(message["content"], list) else []
    found += sum(1 for b in blocks if isinstance(b, dict) and b.get("cache_control"))
    if found > MAX_CACHE_BREAKPOINTS:
        raise errors.invalid_request(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found {found}."
        )
