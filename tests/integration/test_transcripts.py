"""Transcripts on demand: the best caption track, downloaded through the
real client against the fake, stored as timestamped text."""

from optimizer.youtube.client import YouTubeClient
from optimizer.youtube.transcripts import choose_track, fetch_transcript, srt_to_text
from tests.fakes.google import fake_google_fixture

fake_google = fake_google_fixture()


def _client(fake, subject, calls):
    token = fake.oauth.issue_tokens(subject)["access_token"]
    return YouTubeClient(fake.youtube_base_url, lambda _force: token, on_call=calls.append)


def test_manual_track_in_the_videos_language_beats_asr(fake_google):
    channel = fake_google.world.add_channel("maya", n_videos=1, captions=False)
    video = fake_google.world.uploads(channel.id)[0]
    fake_google.world.add_caption(video.id, "en", "asr", text="auto words here")
    fake_google.world.add_caption(video.id, "de", "standard", text="Deutsche Untertitel")
    fake_google.world.add_caption(video.id, "en", "standard", text="First line.\nSecond line.")
    calls = []
    transcript = fetch_transcript(_client(fake_google, "maya", calls), video.id, "en-US")
    assert transcript.source == "manual" and transcript.language == "en"
    assert transcript.text.splitlines()[0].startswith("[0:00:00] First line.")
    assert "[0:00:03] Second line." in transcript.text
    assert sum(c.units for c in calls) == 250  # captions.list 50 + captions.download 200


def test_asr_is_the_fallback_and_no_track_means_none(fake_google):
    channel = fake_google.world.add_channel("maya", n_videos=2, captions=False)
    with_asr, without = fake_google.world.uploads(channel.id)[:2]
    fake_google.world.add_caption(with_asr.id, "en", "asr", text="spoken words")
    client = _client(fake_google, "maya", [])
    assert fetch_transcript(client, with_asr.id, "en").source == "asr"
    assert fetch_transcript(client, without.id, "en") is None


def test_srt_parsing_keeps_times_and_drops_tags():
    srt = "1\n00:00:01,000 --> 00:00:03,000\n<i>Hello</i> there\nfriend\n\n2\n01:02:03,500 --> 01:02:05,000\nBye\n"
    assert srt_to_text(srt) == "[0:00:01] Hello there friend\n[1:02:03] Bye"


def test_choose_track_ignores_tracks_not_serving():
    tracks = [
        {"id": "a", "snippet": {"language": "en", "trackKind": "standard", "status": "failed"}},
        {"id": "b", "snippet": {"language": "en", "trackKind": "asr", "status": "serving"}},
    ]
    assert choose_track(tracks, "en")["id"] == "b"
