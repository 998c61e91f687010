"""Reading suggestions and creating them: the other half of suggestions.py.

A suggestion is born 'pending' (made by the pipeline, or copied from an
earlier identical answer) or, for a restore, 'applying' (decided by the
creator when they press Restore). Every function runs on the caller's cursor.
"""

from __future__ import annotations

from typing import Any, TypedDict

from psycopg2.extras import Json

from optimizer.suggestions import APPLYING, PENDING, RESTORE_ENGINE

REUSED_NOTE = "Reused the answer for the same video version: no new call was made."


class NewSuggestion(TypedDict):
    """One engine's answer for one video of a run, ready to store."""

    run_id: int
    video_id: int
    base_version_id: int | None
    engine: str
    model: str | None
    prompt_version: str
    titles: list[dict[str, Any]]
    description: str
    tags: list[str]
    primary_keyword: str | None
    chapters: list[dict[str, Any]]
    rationale: dict[str, str]
    keyword_evidence: dict[str, Any]
    notes: list[str]
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: Any  # Decimal
    cache_key: str
    removed: list[dict[str, Any]]


def find(cur: Any, channel_id: int, suggestion_id: int) -> dict[str, Any] | None:
    """The suggestion with its video, if it belongs to the channel."""
    cur.execute(
        """SELECT s.*, v.channel_id, v.title AS current_title, v.description AS current_description,
                  v.tags AS current_tags, v.removed_at, v.thumbnail_url
           FROM suggestions s JOIN videos v ON v.id = s.video_id
           WHERE s.id = %s AND v.channel_id = %s""",
        (suggestion_id, channel_id),
    )
    return cur.fetchone()


def lock(cur: Any, suggestion_id: int) -> dict[str, Any] | None:
    """The suggestion as stored now, locked until the transaction ends."""
    cur.execute("SELECT * FROM suggestions WHERE id = %s FOR UPDATE", (suggestion_id,))
    return cur.fetchone()


def applying_since(cur: Any, minutes: int) -> list[int]:
    """Suggestions 'applying' untouched for ``minutes``: candidates for stranded."""
    cur.execute(
        "SELECT id FROM suggestions WHERE status = %s AND updated_at < now() - make_interval(mins => %s)",
        (APPLYING, minutes),
    )
    return [row["id"] for row in cur.fetchall()]


def create_pending(cur: Any, new: NewSuggestion) -> int | None:
    """Store an answer as a pending suggestion; None if the run already has one for the video."""
    cur.execute(
        """INSERT INTO suggestions (run_id, video_id, base_version_id, status, engine, model, prompt_version, titles,
                                    description, tags, primary_keyword, chapters, rationale, keyword_evidence,
                                    notes, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                                    cost_usd, cache_key, removed)
           VALUES (%(run_id)s, %(video_id)s, %(base_version_id)s, %(status)s, %(engine)s, %(model)s,
                   %(prompt_version)s, %(titles)s, %(description)s, %(tags)s, %(primary_keyword)s, %(chapters)s,
                   %(rationale)s, %(keyword_evidence)s, %(notes)s, %(input_tokens)s, %(output_tokens)s,
                   %(cache_read_tokens)s, %(cache_write_tokens)s, %(cost_usd)s, %(cache_key)s, %(removed)s)
           ON CONFLICT (run_id, video_id) DO NOTHING RETURNING id""",
        {
            **new,
            "status": PENDING,
            "titles": Json(new["titles"]),
            "chapters": Json(new["chapters"]),
            "rationale": Json(new["rationale"]),
            "keyword_evidence": Json(new["keyword_evidence"]),
            "removed": Json(new["removed"]),
        },
    )
    row = cur.fetchone()
    return row["id"] if row else None


def copy_earlier_answer(cur: Any, run_id: int, video_id: int, cache_key: str) -> int | None:
    """A pending copy of the newest Claude answer for exactly the same inputs;
    None if there is none (or the run already has a suggestion for the video)."""
    cur.execute(
        """INSERT INTO suggestions (run_id, video_id, base_version_id, status, engine, model, prompt_version, titles,
                                    description, tags, primary_keyword, chapters, rationale, keyword_evidence,
                                    notes, cache_key, removed)
           SELECT %s, video_id, base_version_id, %s, engine, model, prompt_version, titles, description, tags,
                  primary_keyword, chapters, rationale, keyword_evidence, array_append(notes, %s), cache_key, removed
           FROM suggestions WHERE cache_key = %s AND video_id = %s AND engine = 'claude'
           ORDER BY id DESC LIMIT 1
           ON CONFLICT (run_id, video_id) DO NOTHING
           RETURNING id""",
        (run_id, PENDING, REUSED_NOTE, cache_key, video_id),
    )
    row = cur.fetchone()
    return row["id"] if row else None


def create_restore(cur: Any, run_id: int, video_id: int, version: dict[str, Any], user_id: int | None) -> int:
    """A suggestion that puts ``version`` back, decided and 'applying' at once
    (the creator pressed Restore; ``user_id`` None: auto-restore did). Its base is the newest stored version: if
    the video changed since, the apply job stops at a conflict instead of
    overwriting."""
    cur.execute("SELECT id FROM metadata_versions WHERE video_id = %s ORDER BY id DESC LIMIT 1", (video_id,))
    base_version_id = cur.fetchone()["id"]
    titles = Json([{"title": version["title"], "rationale": f"Restore of version {version['number']}"}])
    cur.execute(
        """INSERT INTO suggestions (run_id, video_id, base_version_id, status, engine, prompt_version, titles,
                                    chosen_title, description, tags, cache_key, approved_title,
                                    approved_description, approved_tags, decided_by, decided_at)
           VALUES (%s, %s, %s, %s, %s, 'restore', %s, 0, %s, %s, 'restore', %s, %s, %s, %s, now())
           RETURNING id""",
        (
            run_id,
            video_id,
            base_version_id,
            APPLYING,
            RESTORE_ENGINE,
            titles,
            version["description"],
            list(version["tags"]),
            version["title"],
            version["description"],
            list(version["tags"]),
            user_id,
        ),
    )
    return cur.fetchone()["id"]
