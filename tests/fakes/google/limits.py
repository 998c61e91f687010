"""How the fake checks a `videos.update(part=snippet)` body, the way YouTube does.

Why it matters: the app validates Claude's suggestions against YouTube's limits
before writing; the fake must refuse what YouTube refuses, with the same
reasons, or a too-long description would pass in tests and fail in production.
Limits (FACTS.md): title 1..100 characters, description at most 5,000 bytes of
UTF-8, neither containing < or >; tags at most 500 by YouTube's count
(`generate.youtube_tag_length`); categoryId required and assignable.
"""

from __future__ import annotations

from . import errors
from .generate import ASSIGNABLE_CATEGORIES, youtube_tag_length

TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500


def _angle_brackets(text: str) -> bool:
    return "<" in text or ">" in text


def check_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX_CHARS or _angle_brackets(title):
        raise errors.bad_video_metadata(
            "invalidTitle", "The request metadata specifies an invalid or empty video title.", "body.snippet.title"
        )
    return title


def check_description(description: object) -> str:
    if description is None:
        return ""
    if (
        not isinstance(description, str)
        or len(description.encode("utf-8")) > DESCRIPTION_MAX_BYTES
        or _angle_brackets(description)
    ):
        raise errors.bad_video_metadata(
            "invalidDescription",
            "The request metadata specifies an invalid video description.",
            "body.snippet.description",
        )
    return description


def check_tags(tags: object) -> list[str] | None:
    if tags is None:
        return None
    valid = isinstance(tags, list) and all(isinstance(t, str) and not _angle_brackets(t) for t in tags)
    if not valid or youtube_tag_length(tags) > TAGS_MAX_CHARS:
        raise errors.bad_video_metadata(
            "invalidTags", "The request metadata specifies invalid video keywords.", "body.snippet.tags"
        )
    return list(tags) or None


def check_category(category_id: object) -> str:
    if not isinstance(category_id, str | int) or str(category_id) not in ASSIGNABLE_CATEGORIES:
        raise errors.bad_video_metadata(
            "invalidCategoryId",
            "The <code>snippet.categoryId</code> property specifies an invalid category ID. "
            'Use the <code><a href="/youtube/v3/docs/videoCategories/list">videoCategories.list</a></code> '
            "method to retrieve supported categories.",
            "body.snippet.categoryId",
        )
    return str(category_id)


def check_language(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 35:
        raise errors.bad_video_metadata(
            "invalidVideoMetadata", "The request metadata is invalid.", f"body.snippet.{field}"
        )
    return value


def validated_snippet(snippet: object) -> dict:
    """The stored fields after a snippet update: what was sent, and nothing of
    what was not (a missing description becomes "", missing tags and languages
    disappear), exactly as videos.update replaces the whole snippet."""
    if not isinstance(snippet, dict):
        snippet = {}
    return {
        "title": check_title(snippet.get("title")),
        "description": check_description(snippet.get("description")),
        "tags": check_tags(snippet.get("tags")),
        "category_id": check_category(snippet.get("categoryId")),
        "default_language": check_language(snippet.get("defaultLanguage"), "defaultLanguage"),
        "default_audio_language": check_language(snippet.get("defaultAudioLanguage"), "defaultAudioLanguage"),
    }
