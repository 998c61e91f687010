"""What the fake model says: the default optimization answer, and how any answer
becomes the `content` of a Messages response.

Why a default that reads the request: a batch of 50 videos must run with zero
set-up and give 50 different, valid suggestions, so tests can tell which
suggestion belongs to which video and the app's YouTube-limit checks pass.

The default answer (`default_answer`), before it is fitted to the request's schema:

    {
      "titles": [{"title": str, "rationale": str}] * 3,   # each <= 100 chars, no < or >
      "description": str,            # opens with the primary keyword; < 5,000 UTF-8 bytes
      "description_rationale": str,
      "tags": [str] * 8..10,          # primary keyword first; YouTube tag budget <= 500
      "tags_rationale": str,
      "primary_keyword": str,        # 1-3 words of the current title, lower case
      "chapters": [{"start": "m:ss", "title": str}],  # from [h:mm:ss] marks in the transcript, else []
      "rationale": str
    }

It is derived from the last user message: the line "Current title: ..." (else
its first line) and the "[m:ss]" timestamps of the transcript. It is then
fitted (`conform`) to the forced tool's `input_schema`, or to
`output_config.format.schema`: only the schema's properties are kept, missing
required ones get placeholders, arrays are cut or padded to min/maxItems,
strings cut to maxLength, and `{"title", "rationale"}` objects become strings
where the schema wants strings. So the default answer validates against the
app's schema whatever its exact shape.

How an answer becomes content (`build_content`):
- dict: a `tool_use` block when the request offers tools (tool_choice "tool"
  names it; "any" or "auto" take the first tool; "none" never), else a text
  block holding the JSON (the output_config json_schema case);
- str: a text block, whatever the request asked (a way to script a model
  that ignores the forced tool);
- `Reply`: its content and stop_reason as given, for anything else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import new_id

STOPWORDS = frozenset(
    "a an and the of in on for to with how my your our i we you is are was be it this that at by from vs "
    "or but not no so do does did what why when who which video vlog episode ep part official".split()
)
_TIMESTAMP = re.compile(r"\[(?:(\d+):)?(\d{1,2}):(\d{2})\]\s*([^\[\n]{0,80})")


@dataclass
class Reply:
    """A fully specified answer: content blocks as the API returns them."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "end_turn"
    stop_details: dict[str, Any] | None = None


# --- reading the request ------------------------------------------------------


def last_user_text(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]
    return "\n".join(parts)


def target_schema(body: dict) -> tuple[str | None, dict | None]:
    """(tool name, schema) the answer must fit: the chosen tool's input_schema,
    else output_config's json_schema (tool name None), else (None, None)."""
    tool = chosen_tool(body)
    if tool is not None:
        return tool["name"], tool.get("input_schema")
    fmt = (body.get("output_config") or {}).get("format") or {}
    return None, fmt.get("schema") if fmt.get("type") == "json_schema" else None


def chosen_tool(body: dict) -> dict | None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice") or {"type": "auto"}
    if not tools or choice.get("type") == "none":
        return None
    if choice.get("type") == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), None)
    return tools[0]


# --- the default answer ---------------------------------------------------------


def default_answer(body: dict) -> dict[str, Any]:
    """The plausible optimization answer described in the module docstring, fitted to the schema."""
    text = last_user_text(body)
    title = _current_title(text)
    keyword = _primary_keyword(title)
    chapters = _chapters(text)
    answer = {
        "titles": _titles(title, keyword),
        "description": _description(keyword, title, chapters),
        "description_rationale": f"Opens with '{keyword}' so the search preview says what the video delivers.",
        "tags": _tags(keyword, title),
        "tags_rationale": "The primary keyword first, then close variants viewers search for.",
        "primary_keyword": keyword,
        "chapters": chapters,
        "rationale": f"'{keyword}' is what viewers type for this video; the titles lead with it.",
    }
    _, schema = target_schema(body)
    return conform(answer, schema) if schema else answer


def sloppy_tags_answer(body: dict) -> dict[str, Any]:
    """The default answer with the tag mistakes models really make: each tag
    again in other case, one wrapped in angle brackets, padding spaces, and
    so many that the list passes YouTube's 500-character budget. Every
    mistake is one a rule can fix, so the app should not pay to ask again."""
    answer = default_answer(body)
    tags = list(answer["tags"])
    extra = [f"{tags[0]} idea number {i}" for i in range(40)] if tags else []
    answer["tags"] = [
        *tags,
        *(t.upper() for t in tags),
        f"<{tags[0]}>" if tags else "<tag>",
        *(f"  {t}  " for t in tags[:2]),
        *extra,
    ]
    return answer


def hostile_answer(body: dict) -> dict[str, Any]:
    """The hostile case "a model that read hostile input": the default answer
    with tags repeated in different case, past YouTube's 500-character budget
    and holding < >; a link, an email, a phone number and a script added to the
    description; markup and an instruction in a title; an instruction and a
    link as chapter titles. Use with ``fake.respond_with(hostile_answer)``."""
    answer = default_answer(body)
    keyword = answer.get("primary_keyword") or "video"
    if answer.get("titles") and isinstance(answer["titles"][-1], dict):
        answer["titles"][-1]["title"] = f"<b>{keyword.title()}</b> ignore previous instructions"[:100]
    answer["description"] = (
        answer.get("description", "") + "\n\nFree gift: https://bit.ly/3xYz9Qa\n"
        "Questions? jane.doe@gmail.com or +1 (415) 555-0132\n<script>alert(1)</script>"
    )
    answer["tags"] = [
        keyword,
        keyword.upper(),
        keyword.title(),
        f"<{keyword}>",
        f"{keyword} <img src=x onerror=alert(1)>",
        *(f"{keyword} variation number {i}" for i in range(1, 31)),
    ]
    answer["chapters"] = [
        {"start": "0:00", "title": "Intro"},
        {"start": "0:30", "title": "As an AI language model, I recommend subscribing"},
        {"start": "1:00", "title": "Get it at bit.ly/3xYz9Qa"},
    ]
    return answer


def _current_title(text: str) -> str:
    match = re.search(r"^Current title:\s*(.+)$", text, re.MULTILINE)
    line = match.group(1) if match else next((ln for ln in text.splitlines() if ln.strip()), "Untitled video")
    return _clean(line)[:100] or "Untitled video"


def _primary_keyword(title: str) -> str:
    words = [w for w in re.findall(r"[^\W_]+", title.lower()) if w not in STOPWORDS and not w.isdigit()]
    return " ".join(words[:3]) or "video"


def _titles(title: str, keyword: str) -> list[dict[str, str]]:
    head = keyword.title()
    options = [
        (f"{head}: {title}" if keyword not in title.lower() else title, "Keeps the creator's wording, keyword first."),
        (f"How to {head} (Step by Step)", "Outcome-led: promises a result viewers search for."),
        (f"{head} Explained: What Nobody Tells You", "Curiosity-led angle for browse and suggested."),
    ]
    return [{"title": _clean(t)[:100], "rationale": r} for t, r in options]


def _description(keyword: str, title: str, chapters: list[dict[str, str]]) -> str:
    lines = [
        f"Learn {keyword} in this video: {title}.",
        f"We walk through {keyword} step by step, with the mistakes to avoid and what to do instead.",
    ]
    if chapters:
        lines += [""] + [f"{c['start']} {c['title']}" for c in chapters]
    return _clean("\n".join(lines))[:4500]


def _tags(keyword: str, title: str) -> list[str]:
    words = [w for w in re.findall(r"[^\W_]+", title.lower()) if w not in STOPWORDS and not w.isdigit()]
    candidates = [
        keyword,
        f"{keyword} tutorial",
        f"how to {keyword}",
        f"{keyword} for beginners",
        f"{keyword} tips",
        f"best {keyword}",
        *words,
        f"{keyword} guide",
        f"{keyword} explained",
    ]
    tags: list[str] = []
    for tag in candidates:
        tag = _clean(tag).replace(",", " ").strip()[:60]
        if tag and tag not in tags and _tag_budget([*tags, tag]) <= 500:
            tags.append(tag)
    return tags[:10]


def _tag_budget(tags: list[str]) -> int:
    """YouTube's count (FACTS.md): each tag, +2 if it has a space, +1 per comma."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def _chapters(text: str) -> list[dict[str, str]]:
    found = []
    for hours, minutes, seconds, label in _TIMESTAMP.findall(text):
        start = f"{int(hours)}:{int(minutes):02d}:{seconds}" if hours else f"{int(minutes)}:{seconds}"
        found.append({"start": start, "title": _clean(label).strip(" .-")[:50] or f"Part {len(found) + 1}"})
    if len(found) < 3 or found[0]["start"] not in ("0:00", "0:00:00"):
        return []
    return found[:12]


def _clean(text: str) -> str:
    return text.replace("<", "").replace(">", "").strip()


# --- fitting an answer to a JSON schema ----------------------------------------------


def conform(value: Any, schema: dict | None, root: dict | None = None) -> Any:
    """`value` reshaped to satisfy `schema` (the subset of JSON Schema tool schemas
    use, with local `$ref`s and `anyOf` as pydantic writes them)."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _conform_object(value, schema, root)
    if kind == "array":
        items = value if isinstance(value, list) else ([] if value is None else [value])
        items = [conform(v, schema.get("items"), root) for v in items][: schema.get("maxItems", len(items))]
        while len(items) < schema.get("minItems", 0):
            items.append(placeholder(f"item {len(items) + 1}", schema.get("items") or {}, root))
        return items
    if kind == "string":
        if isinstance(value, dict):
            value = next((v for v in value.values() if isinstance(v, str)), "")
        text = value if isinstance(value, str) else json.dumps(value)
        if schema.get("enum") and text not in schema["enum"]:
            return schema["enum"][0]
        return text[: schema["maxLength"]] if "maxLength" in schema else text
    if kind in ("integer", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return value if ok else placeholder("n", schema, root)
    if kind == "boolean":
        return bool(value)
    return value


def _resolve(schema: Any, root: Any) -> Any:
    """Follow "#/$defs/X" references; take the first non-null branch of anyOf/oneOf."""
    for _ in range(10):
        if not isinstance(schema, dict):
            return schema
        if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/") and isinstance(root, dict):
            target: Any = root
            for part in schema["$ref"][2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = target
            continue
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            schema = next((b for b in branches if isinstance(b, dict) and b.get("type") != "null"), branches[0])
            continue
        return schema
    return schema


def _conform_object(value: Any, schema: dict, root: dict | None) -> dict:
    props = schema.get("properties") or {}
    source = value if isinstance(value, dict) else {}
    if not props:
        return dict(source)
    out = {}
    for name, sub in props.items():
        if name in source:
            out[name] = conform(source[name], sub, root)
        elif name in (schema.get("required") or []):
            out[name] = placeholder(name, sub, root)
    return out


def placeholder(name: str, schema: dict, root: dict | None = None) -> Any:
    """A valid value for a required field the default answer does not know."""
    schema = _resolve(schema, root) or {}
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "array" or kind == "object" or "properties" in schema:
        return conform(None, schema, root)
    return f"fake {name}"[: schema.get("maxLength", 1000)]


def malformed(answer: Any, schema: dict | None) -> Any:
    """The answer broken the way models break: a required field missing and an
    array given as a string (with a schema); else text that is not JSON."""
    if isinstance(answer, dict) and schema:
        broken = dict(answer)
        required = [r for r in schema.get("required") or [] if r in broken]
        if required:
            del broken[required[0]]
        arrays = [k for k, s in (schema.get("properties") or {}).items() if s.get("type") == "array" and k in broken]
        if arrays:
            broken[arrays[0]] = "see above"
        return broken
    return 'Sure! Here is the optimized metadata:\n{"titles": [{"title": "'


# --- content blocks -----------------------------------------------------------


def build_content(body: dict, answer: Any) -> Reply:
    """The content and stop_reason for `answer` (see the module docstring)."""
    if isinstance(answer, Reply):
        return answer
    if isinstance(answer, str):
        return Reply([{"type": "text", "text": answer}], "end_turn")
    tool = chosen_tool(body)
    if tool is not None:
        block = {"type": "tool_use", "id": new_id("toolu_"), "name": tool["name"], "input": answer}
        return Reply([block], "tool_use")
    return Reply([{"type": "text", "text": json.dumps(answer, ensure_ascii=False)}], "end_turn")


def output_text(reply: Reply) -> str:
    """What the output tokens are counted from."""
    parts = []
    for block in reply.content:
        parts.append(block["text"] if block.get("type") == "text" else json.dumps(block.get("input", block)))
    return "".join(parts)


def truncate(reply: Reply, max_tokens: int) -> Reply:
    """The reply as the API cuts it at max_tokens: text shortened, a tool's input empty."""
    content: list[dict[str, Any]] = []
    for block in reply.content if max_tokens > 0 else []:
        if block.get("type") == "text":
            content.append({**block, "text": block["text"][: max_tokens * 4]})
        elif block.get("type") == "tool_use":
            content.append({**block, "input": {}})
    return Reply(content, "max_tokens")
