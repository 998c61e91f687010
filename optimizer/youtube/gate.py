"""The one check every write to YouTube passes before a unit is spent.

videos.update refuses the whole snippet when one field breaks YouTube's
limits (``<`` or ``>``, a title over 100 characters, ...), and the refusal
still costs its 50 units, plus the videos.list read before it. So every
path that ends in a write calls ``check_writable`` before the quota is
touched: Apply on the review panel, Apply accepted on a batch, "Apply my
version" after a conflict (all through ``suggestions.send_to_apply``),
Restore (``video_history.create_restore``), and the apply job itself, which any
later path (an automatic restore) goes through too. The client checks the
snippet once more right before the PUT, as the last line.
"""

from __future__ import annotations

from typing import Any

from optimizer import limits
from reliability.errors import ValidationError


class WriteRefused(ValidationError):
    """YouTube would refuse this metadata; nothing was sent and nothing spent."""

    code = "youtube_limits"


def check_writable(title: str, description: str, tags: list[str], *, video: str | None = None) -> None:
    """Refuse, with every problem in words, metadata YouTube would refuse."""
    problems = limits.validate(title, description, tags)
    if problems:
        words = " ".join(problem.message for problem in problems)
        where = f"For “{video}”: " if video else ""
        raise WriteRefused(f"Nothing was sent to YouTube. {where}{words}")


def approved_metadata(suggestion: dict[str, Any]) -> tuple[str, str, list[str]]:
    """What applying a suggestion row writes: the creator's saved draft,
    else the suggestion as made (the ranked title they chose)."""
    title = suggestion["approved_title"] or suggestion["titles"][suggestion["chosen_title"]]["title"]
    description = suggestion["approved_description"]
    tags = suggestion["approved_tags"]
    return (
        title,
        suggestion["description"] if description is None else description,
        list(suggestion["tags"] if tags is None else tags),
    )
