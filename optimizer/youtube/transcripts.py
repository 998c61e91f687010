"""Transcripts, fetched on demand when a video is optimized (never at sync:
captions.list costs 50 units and captions.download 200, per video).

The best track is a manual (``standard``) track in the video's language;
automatic (``asr``) tracks are the fallback. The SRT file is kept as plain
text with one cue per line, each starting with its ``[h:mm:ss]`` time, so
chapters can be built from it and the prompt can be cut at a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from optimizer.youtube.client import YouTubeClient, YouTubeError
from reliability.db import Cursor
from reliability.prepared import Statement

# A video without captions may get some: look again after a week.
RECHECK_AFTER = timedelta(days=7)

_SRT_TIME = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[,.]\d{1,3}\s*-->")
_TAG = re.compile(r"<[^>]{0,200}>")


@dataclass(frozen=True)
class Transcript:
    language: str | None
    source: str  # 'manual' or 'asr'
    text: str


def _lang(code: str | None) -> str:
    return (code or "").split("-")[0].lower()


def choose_track(tracks: list[dict[str, Any]], video_language: str | None) -> dict[str, Any] | None:
    """Manual in the video's language, then ASR in it, then any manual, then any."""
    wanted = _lang(video_language)

    def rank(track: dict[str, Any]) -> tuple[int, int]:
        snippet = track.get("snippet", {})
        same_language = bool(wanted) and _lang(snippet.get("language")) == wanted
        manual = snippet.get("trackKind", "standard").lower() != "asr"
        return (0 if same_language else 1, 0 if manual else 1)

    usable = [t for t in tracks if t.get("snippet", {}).get("status", "serving") == "serving"]
    return min(usable, key=rank) if usable else None


def srt_to_text(srt: str) -> str:
    """SRT cues to lines of ``[h:mm:ss] text`` (tags and numbering dropped)."""
    lines: list[str] = []
    stamp: str | None = None
    cue: list[str] = []
    for raw in srt.splitlines() + [""]:
        line = raw.strip()
        match = _SRT_TIME.match(line)
        if match:
            hours, minutes, seconds = (int(g) for g in match.groups())
            stamp, cue = f"[{hours}:{minutes:02d}:{seconds:02d}]", []
        elif not line:
            if stamp and cue:
                lines.append(f"{stamp} {' '.join(cue)}")
            stamp, cue = None, []
        elif stamp is not None:
            cue.append(_TAG.sub("", line))
    return "\n".join(lines)


def fetch_transcript(client: YouTubeClient, youtube_video_id: str, video_language: str | None) -> Transcript | None:
    """List the caption tracks, download the best one. None when the video
    has no usable track, or when YouTube will not let us download it (only
    the owner's own videos can be downloaded)."""
    track = choose_track(client.caption_tracks(youtube_video_id), video_language)
    if track is None:
        return None
    try:
        body = client.download_caption(track["id"], "srt")
    except YouTubeError as exc:
        if exc.status in (403, 404):
            return None
        raise
    snippet = track["snippet"]
    source = "asr" if snippet.get("trackKind", "").lower() == "asr" else "manual"
    return Transcript(language=snippet.get("language"), source=source, text=srt_to_text(body))


def store_transcript(cur: Cursor, video_id: int, transcript: Transcript) -> None:
    cur.execute(
        """INSERT INTO transcripts (video_id, language, source, text) VALUES (%s, %s, %s, %s)
           ON CONFLICT (video_id) DO UPDATE SET language = EXCLUDED.language, source = EXCLUDED.source,
               text = EXCLUDED.text, fetched_at = now()""",
        (video_id, transcript.language, transcript.source, transcript.text),
    )


def count_to_fetch(cur: Cursor, channel: dict[str, Any], video_ids: list[int]) -> int:
    """How many of these videos an optimization would fetch a transcript for
    (each one costs ``quota.TRANSCRIPT_UNITS``): none stored yet, or found
    missing more than ``RECHECK_AFTER`` ago. Only a connected channel fetches."""
    return count_to_fetch_and_when_it_changes(cur, channel, video_ids)[0]


# Prepared (reliability/prepared.py): the channel page runs it whenever a
# change to the channel makes it count afresh.
_TO_FETCH = Statement(
    "transcripts_to_fetch",
    """SELECT count(*) FILTER (WHERE nullif(t.text, '') IS NULL
                            AND NOT (t.source IS NOT DISTINCT FROM 'none'
                                     AND t.fetched_at > now() - %(recheck)s::interval)) AS n,
           extract(epoch FROM min(t.fetched_at + %(recheck)s::interval - now())
                              FILTER (WHERE nullif(t.text, '') IS NULL AND t.source = 'none'
                                        AND t.fetched_at > now() - %(recheck)s::interval)) AS changes_in
    FROM videos v LEFT JOIN transcripts t ON t.video_id = v.id
    WHERE v.id = ANY(%(ids)s) AND v.channel_id = %(channel)s""",
)


def count_to_fetch_and_when_it_changes(
    cur: Cursor, channel: dict[str, Any], video_ids: list[int]
) -> tuple[int, float | None]:
    """``count_to_fetch``, and in how many seconds the count changes with
    nothing written: when the first video found without captions is due to
    be looked at again; None if only a change to the rows can change it
    (the channel page keeps the count until then: webapp/channels/showing.py).
    Seconds from the database's own clock, so no clock skew between hosts."""
    if channel["is_demo"] or channel["status"] != "connected" or not video_ids:
        return 0, None
    _TO_FETCH.execute(cur, {"recheck": RECHECK_AFTER, "ids": video_ids, "channel": channel["id"]})
    row = cur.fetchone()
    return int(row["n"]), None if row["changes_in"] is None else float(row["changes_in"])
