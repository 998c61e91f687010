"""HTTP endpoints of the fake YouTube Data API v3, under /youtube/v3.

    GET /channels        part, mine=true | id= | forHandle=
    GET /playlistItems   part, playlistId=UU..., maxResults (0..50, default 5), pageToken
    GET /videos          part, id=a,b,c (at most 50; maxResults with id is refused, as Google documents)
    PUT /videos          part=snippet, JSON {"id", "snippet"}: replaces the whole snippet
    GET /captions        part, videoId
    GET /captions/<id>   tfmt=srt|vtt|sbv: the file, owner only

Every call goes through `_guard`, in this order: count the call, sleep the
configured latency, answer an injected fault, check the bearer token (401
authError), check the scope (403 insufficientPermissions), charge quota (403
quotaExceeded). Why this order: faults model the network and Google's
front end, which fail before auth; quota is charged per project only once the
caller is known. A successful answer may then be held back by an injected
hang (`Faults.hang`), after the call has done its work.

Visibility follows the real API: the owner of a channel sees its private and
unlisted uploads in the uploads playlist; anyone else sees public videos only,
and videos.list silently omits what the caller may not see or what does not exist.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, g, json, request

from . import errors
from . import resources as res
from .limits import validated_snippet
from .oauth import YOUTUBE, YOUTUBE_FORCE_SSL, YOUTUBE_READONLY, YOUTUBEPARTNER, Grant
from .quota import FAULTS
from .world import World

READ_SCOPES = frozenset({YOUTUBE, YOUTUBE_FORCE_SSL, YOUTUBE_READONLY, YOUTUBEPARTNER})
WRITE_SCOPES = frozenset({YOUTUBE, YOUTUBE_FORCE_SSL, YOUTUBEPARTNER})
CAPTION_SCOPES = frozenset({YOUTUBE_FORCE_SSL, YOUTUBEPARTNER})
MAX_IDS = 50


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _max_results(default: int = 5) -> int:
    raw = request.args.get("maxResults")
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= 50:
        raise errors.invalid_parameter("maxResults", f"Invalid value '{raw}'. Values must be within the range: [0, 50]")
    return int(raw)


def _id_list(raw: str) -> list[str]:
    ids = list(dict.fromkeys(i.strip() for i in raw.split(",") if i.strip()))
    if len(ids) > MAX_IDS:
        raise errors.invalid_parameter("id", f"The request specifies {len(ids)} ids; at most {MAX_IDS} are allowed.")
    return ids


def _only_one_filter(names: tuple[str, ...]) -> str:
    given = [name for name in names if request.args.get(name)]
    if not given:
        raise errors.missing_filter(", ".join(names))
    if len(given) > 1:
        raise errors.incompatible(", ".join(given))
    return given[0]


def checked_grant(fake, endpoint: str, scopes: frozenset[str], quota) -> Grant:
    """What every fake Google API does before answering, in Google's order:
    count the call, wait the fake's latency, fire an injected fault, check the
    bearer token and its scopes, then charge the API's own quota."""
    g.youtube_endpoint = endpoint
    fake.count_call(endpoint)
    if fake.latency_s:
        time.sleep(fake.latency_s)
    fault = fake.faults.take(endpoint)
    if fault:
        raise FAULTS[fault]()
    header = request.headers.get("Authorization", "")
    grant = fake.oauth.check_access_token(header[7:].strip()) if header.startswith("Bearer ") else None
    if grant is None:
        raise errors.auth_error()
    if not scopes.intersection(grant.scopes):
        raise errors.insufficient_scope()
    quota.charge(endpoint)
    return grant


def create_youtube_blueprint(fake) -> Blueprint:
    bp = Blueprint("youtube_v3", __name__, url_prefix="/youtube/v3")
    world: World = fake.world

    def _guard(endpoint: str, scopes: frozenset[str]) -> Grant:
        return checked_grant(fake, endpoint, scopes, fake.quota)

    @bp.errorhandler(errors.ApiError)
    def _api_error(err: errors.ApiError) -> Response:
        return err.response()

    @bp.after_request
    def _hold(response: Response) -> Response:
        # Outside world.lock: a held update must not stop others reading the world.
        endpoint = g.get("youtube_endpoint")
        if endpoint and response.status_code < 400:
            fake.faults.hold(endpoint)
        return response

    @bp.get("/channels")
    def channels_list():
        grant = _guard("channels.list", READ_SCOPES)
        parts = res.parse_parts(request.args.get("part"), res.CHANNEL_PARTS)
        per_page = _max_results()
        how = _only_one_filter(("mine", "id", "forHandle"))
        with world.lock:
            if how == "mine":
                found = [world.channels[c] for c in grant.channel_ids if c in world.channels]
            elif how == "id":
                found = [world.channels[c] for c in _id_list(request.args["id"]) if c in world.channels]
            else:
                wanted = request.args["forHandle"].lower().lstrip("@")
                found = [c for c in world.channels.values() if c.custom_url.lower().lstrip("@") == wanted]
            items = [res.channel_resource(world, c, parts) for c in found[:per_page]]
        body = res.list_response("youtube#channelListResponse", items, per_page=per_page, total=len(found))
        if not items:
            del body["items"]  # Google leaves `items` out of an empty channels.list
        return _json(body)

    @bp.get("/playlistItems")
    def playlist_items_list():
        grant = _guard("playlistItems.list", READ_SCOPES)
        parts = res.parse_parts(request.args.get("part"), res.PLAYLIST_ITEM_PARTS)
        per_page = _max_results()
        playlist_id = request.args.get("playlistId")
        if not playlist_id:
            raise errors.missing_filter("id, playlistId")
        offset = res.decode_page_token(request.args["pageToken"]) if request.args.get("pageToken") else 0
        with world.lock:
            channel = world.channel_for_uploads(playlist_id)
            if channel is None:
                raise errors.not_found(
                    "playlistNotFound",
                    "The playlist identified with the request's <code>playlistId</code> parameter cannot be found.",
                    "youtube.playlistItem",
                    "playlistId",
                )
            videos = world.uploads(channel.id, include_non_public=channel.id in grant.channel_ids)
            page = videos[offset : offset + per_page]
            items = [res.playlist_item_resource(v, channel, offset + i, parts) for i, v in enumerate(page)]
        more = offset + per_page < len(videos) and per_page > 0
        tokens = {
            "nextPageToken": res.encode_page_token(offset + per_page) if more else None,
            "prevPageToken": res.encode_page_token(max(offset - per_page, 0), backwards=True) if offset else None,
        }
        kind = "youtube#playlistItemListResponse"
        return _json(res.list_response(kind, items, per_page=per_page, total=len(videos), **tokens))

    @bp.get("/videos")
    def videos_list():
        grant = _guard("videos.list", READ_SCOPES)
        parts = res.parse_parts(request.args.get("part"), res.VIDEO_PARTS)
        if _only_one_filter(("id", "chart", "myRated")) != "id":
            raise errors.invalid_parameter("chart", "fake: only the id filter is supported")
        if "maxResults" in request.args:
            # Google: maxResults "is not supported for use in conjunction with the id parameter".
            raise errors.incompatible("id, maxResults")
        ids = _id_list(request.args["id"])
        with world.lock:
            visible = [world.videos[i] for i in ids if i in world.videos and _may_see(world.videos[i], grant)]
            items = [res.video_resource(world, v, parts) for v in visible]
        return _json(res.list_response("youtube#videoListResponse", items, per_page=len(items)))

    @bp.put("/videos")
    def videos_update():
        grant = _guard("videos.update", WRITE_SCOPES)
        body = request.get_json(silent=True)
        fake.update_bodies.append(body if body is not None else request.get_data(as_text=True))
        parts = res.parse_parts(request.args.get("part"), res.VIDEO_PARTS)
        if not parts <= {"snippet", "id"} or "snippet" not in parts:
            raise errors.invalid_parameter("part", "fake: videos.update supports part=snippet only")
        if not isinstance(body, dict):
            raise errors.parse_error()
        with world.lock:
            video = world.videos.get(body.get("id") or "")
            if video is None:
                raise errors.not_found(
                    "videoNotFound",
                    "The video that you are trying to update cannot be found. Check the value of the "
                    "<code>id</code> field in the request body to ensure that it is correct.",
                    "youtube.video",
                    "body.id",
                )
            if video.channel_id not in grant.channel_ids:
                raise errors.forbidden("Forbidden", "youtube.video")
            world.update_video(video.id, **validated_snippet(body.get("snippet")))
            return _json(res.video_resource(world, video, parts))

    @bp.get("/captions")
    def captions_list():
        grant = _guard("captions.list", CAPTION_SCOPES)
        parts = res.parse_parts(request.args.get("part"), res.CAPTION_PARTS)
        video_id = request.args.get("videoId")
        if not video_id:
            raise errors.required("videoId")
        with world.lock:
            video = world.videos.get(video_id)
            if video is None or not _may_see(video, grant):
                raise errors.not_found(
                    "videoNotFound",
                    "The video identified by the <code>videoId</code> parameter could not be found.",
                    "youtube.caption",
                    "videoId",
                )
            items = [res.caption_resource(track, parts) for track in video.captions]
        body = res.list_response("youtube#captionListResponse", items, per_page=len(items))
        del body["pageInfo"]  # captions.list has no paging
        return _json(body)

    @bp.get("/captions/<caption_id>")
    def captions_download(caption_id: str):
        grant = _guard("captions.download", CAPTION_SCOPES)
        fmt = request.args.get("tfmt", "vtt")
        if fmt not in res.CAPTION_FORMATS:
            raise errors.invalid_parameter("tfmt", f"fake: tfmt must be one of {sorted(res.CAPTION_FORMATS)}")
        with world.lock:
            track = world.captions.get(caption_id)
            if track is None:
                raise errors.not_found("captionNotFound", "The caption track could not be found.", "youtube.caption")
            video = world.videos[track.video_id]
            if video.channel_id not in grant.channel_ids:
                raise errors.forbidden(
                    "The permissions associated with the request are not sufficient to download the caption track.",
                    "youtube.caption",
                )
            text = res.caption_file(track, video, fmt)
        return Response(text.encode("utf-8"), status=200, mimetype="application/octet-stream")

    return bp


def _may_see(video, grant: Grant) -> bool:
    return video.privacy_status != "private" or video.channel_id in grant.channel_ids
