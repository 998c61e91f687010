"""JSON shapes of YouTube Data API v3 resources, page tokens and caption files.

Why separate from the routes: the shapes are the contract the real client is
written against (string counts in `statistics`, `tags` absent rather than empty,
`items` absent from an empty channels.list), and keeping them in one place makes
them easy to check against Google's reference.
"""

from __future__ import annotations

import base64
import hashlib

from . import errors
from . import generate as gen
from .world import CaptionTrack, Channel, Video, World

VIDEO_PARTS = frozenset(
    {
        "id", "snippet", "contentDetails", "statistics", "status", "player", "topicDetails", "recordingDetails",
        "liveStreamingDetails", "localizations", "fileDetails", "processingDetails", "suggestions",
        "paidProductPlacementDetails",
    }
)  # fmt: skip
CHANNEL_PARTS = frozenset(
    {
        "id", "snippet", "contentDetails", "statistics", "status", "brandingSettings", "topicDetails",
        "localizations", "contentOwnerDetails", "auditDetails",
    }
)  # fmt: skip
PLAYLIST_ITEM_PARTS = frozenset({"id", "snippet", "contentDetails", "status"})
CAPTION_PARTS = frozenset({"id", "snippet"})


def parse_parts(raw: str | None, allowed: frozenset[str]) -> set[str]:
    """The `part` parameter: required; an unknown name is a 400 unknownPart.
    Known parts the fake does not model are accepted and left out."""
    if raw is None or not raw.strip():
        raise errors.required("part")
    parts = {p.strip() for p in raw.split(",") if p.strip()}
    for part in sorted(parts):
        if part not in allowed:
            raise errors.unknown_part(part)
    return parts


def etag(*values: object) -> str:
    digest = hashlib.sha1(repr(values).encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _thumbnails(base: str) -> dict:
    sizes = {
        "default": (120, 90),
        "medium": (320, 180),
        "high": (480, 360),
        "standard": (640, 480),
        "maxres": (1280, 720),
    }
    names = {
        "default": "default",
        "medium": "mqdefault",
        "high": "hqdefault",
        "standard": "sddefault",
        "maxres": "maxresdefault",
    }
    return {key: {"url": f"{base}/{names[key]}.jpg", "width": w, "height": h} for key, (w, h) in sizes.items()}


def video_resource(world: World, video: Video, parts: set[str]) -> dict:
    channel = world.channels[video.channel_id]
    out: dict = {"kind": "youtube#video", "etag": etag(video.id, video.version, sorted(parts)), "id": video.id}
    if "snippet" in parts:
        out["snippet"] = video_snippet(video, channel)
    if "contentDetails" in parts:
        out["contentDetails"] = {
            "duration": gen.iso_duration(video.duration_s),
            "dimension": "2d",
            "definition": "hd",
            "caption": "true" if video.has_standard_captions else "false",
            "licensedContent": False,
            "contentRating": {},
            "projection": "rectangular",
        }
    if "statistics" in parts:
        out["statistics"] = {
            "viewCount": str(video.view_count),
            "likeCount": str(video.like_count),
            "favoriteCount": "0",
            "commentCount": str(video.comment_count),
        }
    if "status" in parts:
        out["status"] = {
            "uploadStatus": "processed",
            "privacyStatus": video.privacy_status,
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
            "madeForKids": False,
        }
    return out


def video_snippet(video: Video, channel: Channel) -> dict:
    snippet: dict = {
        "publishedAt": video.published_at,
        "channelId": channel.id,
        "title": video.title,
        "description": video.description,
        "thumbnails": _thumbnails(f"https://i.ytimg.com/vi/{video.id}"),
        "channelTitle": channel.title,
    }
    if video.tags:
        snippet["tags"] = list(video.tags)
    snippet["categoryId"] = video.category_id
    snippet["liveBroadcastContent"] = "none"
    if video.default_language:
        snippet["defaultLanguage"] = video.default_language
    snippet["localized"] = {"title": video.title, "description": video.description}
    if video.default_audio_language:
        snippet["defaultAudioLanguage"] = video.default_audio_language
    return snippet


def channel_resource(world: World, channel: Channel, parts: set[str]) -> dict:
    out: dict = {"kind": "youtube#channel", "etag": etag(channel.id, len(channel.video_ids)), "id": channel.id}
    if "snippet" in parts:
        out["snippet"] = {
            "title": channel.title,
            "description": channel.description,
            "customUrl": channel.custom_url,
            "publishedAt": channel.published_at,
            "thumbnails": _thumbnails(f"https://yt3.ggpht.com/{channel.id}"),
            "localized": {"title": channel.title, "description": channel.description},
        }
        if channel.country:
            out["snippet"]["country"] = channel.country
    if "contentDetails" in parts:
        out["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": channel.uploads_playlist_id}}
    if "statistics" in parts:
        public = world.uploads(channel.id, include_non_public=False)
        out["statistics"] = {
            "viewCount": str(sum(v.view_count for v in public)),
            "subscriberCount": str(channel.subscriber_count),
            "hiddenSubscriberCount": False,
            "videoCount": str(len(public)),
        }
    if "status" in parts:
        out["status"] = {
            "privacyStatus": "public",
            "isLinked": True,
            "longUploadsStatus": "longUploadsUnspecified",
            "madeForKids": False,
        }
    return out


def playlist_item_resource(video: Video, channel: Channel, position: int, parts: set[str]) -> dict:
    playlist_id = channel.uploads_playlist_id
    item_id = base64.b64encode(f"{playlist_id}.{video.id}".encode()).decode()
    out: dict = {"kind": "youtube#playlistItem", "etag": etag(item_id, video.version, position), "id": item_id}
    if "snippet" in parts:
        out["snippet"] = {
            "publishedAt": video.published_at,
            "channelId": channel.id,
            "title": video.title,
            "description": video.description,
            "thumbnails": _thumbnails(f"https://i.ytimg.com/vi/{video.id}"),
            "channelTitle": channel.title,
            "playlistId": playlist_id,
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": video.id},
            "videoOwnerChannelTitle": channel.title,
            "videoOwnerChannelId": channel.id,
        }
    if "contentDetails" in parts:
        out["contentDetails"] = {"videoId": video.id, "videoPublishedAt": video.published_at}
    if "status" in parts:
        out["status"] = {"privacyStatus": video.privacy_status}
    return out


def caption_resource(track: CaptionTrack, parts: set[str]) -> dict:
    out: dict = {"kind": "youtube#caption", "etag": etag(track.id, track.last_updated), "id": track.id}
    if "snippet" in parts:
        out["snippet"] = {
            "videoId": track.video_id,
            "lastUpdated": track.last_updated,
            "trackKind": track.track_kind,
            "language": track.language,
            "name": track.name,
            "audioTrackType": "unknown",
            "isCC": False,
            "isLarge": False,
            "isEasyReader": False,
            "isDraft": False,
            "isAutoSynced": False,
            "status": "serving",
        }
    return out


def list_response(
    kind: str, items: list[dict], *, per_page: int, total: int | None = None, **tokens: str | None
) -> dict:
    out: dict = {"kind": kind, "etag": etag(kind, [i["etag"] for i in items])}
    out.update({name: token for name, token in tokens.items() if token})
    out["items"] = items
    out["pageInfo"] = {"totalResults": len(items) if total is None else total, "resultsPerPage": per_page}
    return out


# --- page tokens: shaped like Google's ("EAAaBlBUOkNESQ" is offset 50) -------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_page_token(offset: int, *, backwards: bool = False) -> str:
    inner = base64.b64encode(b"\x08" + _varint(offset)).decode().rstrip("=")
    payload = b"PT:" + inner.encode()
    raw = bytes([0x10, 1 if backwards else 0, 0x1A, len(payload)]) + payload
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if raw[:1] != b"\x10" or raw[2:3] != b"\x1a" or raw[4:7] != b"PT:":
            raise ValueError(token)
        inner = raw[7 : 4 + raw[3]].decode()
        varint = base64.b64decode(inner + "=" * (-len(inner) % 4))[1:]
        return sum((byte & 0x7F) << (7 * i) for i, byte in enumerate(varint))
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise errors.invalid_page_token() from exc


# --- caption files ----------------------------------------------------------

CAPTION_FORMATS = {"srt", "vtt", "sbv"}


def _cues(track: CaptionTrack, video: Video) -> list[tuple[float, float, str]]:
    if track.text is None:
        return gen.caption_cues(track.id, video.title, video.duration_s)
    lines = [line.strip() for line in track.text.splitlines() if line.strip()]
    return [(3.0 * i, 3.0 * i + 2.8, line) for i, line in enumerate(lines)]


def _stamp(seconds: float, separator: str, short_hours: bool = False) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    hh = f"{hours}" if short_hours else f"{hours:02d}"
    return f"{hh}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def caption_file(track: CaptionTrack, video: Video, fmt: str) -> str:
    """The track in SubRip (srt), WebVTT (vtt) or SubViewer (sbv) format."""
    cues = _cues(track, video)
    if fmt == "srt":
        blocks = [f"{i}\n{_stamp(a, ',')} --> {_stamp(b, ',')}\n{text}\n" for i, (a, b, text) in enumerate(cues, 1)]
        return "\n".join(blocks)
    if fmt == "sbv":
        return "\n".join(f"{_stamp(a, '.', True)},{_stamp(b, '.', True)}\n{text}\n" for a, b, text in cues)
    blocks = [f"{_stamp(a, '.')} --> {_stamp(b, '.')}\n{text}\n" for a, b, text in cues]
    return "WEBVTT\nKind: captions\nLanguage: " + track.language + "\n\n" + "\n".join(blocks)
