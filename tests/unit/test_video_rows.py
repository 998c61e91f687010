"""The channel page's video rows (webapp/channels/video_rows.py): what an
owner and a viewer see in a row, and that text from YouTube stays text."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import Any

from optimizer.seo import seo_band
from webapp.channels.video_rows import video_rows

URLS = {"video_url": ("/channels/3/videos/", ""), "optimize_url": ("/channels/3/videos/", "/optimize")}
HOSTILE = '</td><script>alert(1)</script>"\' onmouseover="x'


def _video(**changes: Any) -> dict[str, Any]:
    return {
        "id": 41,
        "title": "Sourdough at home",
        "thumbnail_url": "https://i.ytimg.com/vi/abc/mqdefault.jpg",
        "published_at": dt.datetime(2024, 3, 9, 15, tzinfo=dt.UTC),
        "view_count": 1234567,
        "like_count": 890,
        "privacy_status": "unlisted",
        "removed_at": None,
        "seo_score": 42,
        **changes,
    }


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser parses them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_an_editor_row_has_its_select_box_link_figures_and_optimize_button():
    page = _parse(video_rows([_video()], can_edit=True, **URLS))
    tags = dict(page.tags)
    assert tags["input"] == {
        "type": "checkbox",
        "name": "video_ids",
        "value": "41",
        "id": "select-41",
        "aria-label": "Select Sourdough at home",
    }
    assert tags["a"] == {"href": "/channels/3/videos/41"}
    assert tags["button"]["formaction"] == "/channels/3/videos/41/optimize"
    assert tags["span"] == {"class": f"seo seo-{seo_band(42)}"}
    assert [t.strip() for t in page.text if t.strip()] == [
        "Sourdough at home",
        "2024-03-09",
        "1,234,567",
        "890",
        "42",
        "Unlisted",
        "Optimize",
    ]


def test_a_viewer_row_has_neither_select_box_nor_button():
    tags = [tag for tag, _ in _parse(video_rows([_video()], can_edit=False, **URLS)).tags]
    assert "input" not in tags and "button" not in tags
    assert tags.count("td") == 7


def test_a_removed_video_is_marked_and_cannot_be_selected_or_optimized():
    page = _parse(video_rows([_video(removed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))], can_edit=True, **URLS))
    tags = dict(page.tags)
    assert "disabled" in tags["input"]
    assert "button" not in tags
    assert "removed" in [t.strip() for t in page.text]


def test_missing_values_show_placeholders():
    page = _parse(
        video_rows(
            [_video(thumbnail_url=None, published_at=None, seo_score=None, privacy_status=None)],
            can_edit=False,
            **URLS,
        )
    )
    assert "img" not in dict(page.tags)
    assert ("span", {"class": "muted"}) in page.tags
    assert "–" in [t.strip() for t in page.text]


def test_text_from_youtube_stays_text_in_every_field():
    html = str(
        video_rows(
            [_video(title=HOSTILE, thumbnail_url=HOSTILE, privacy_status=HOSTILE)],
            can_edit=True,
            **URLS,
        )
    )
    page = _parse(html)
    assert "<script>" not in html
    assert [tag for tag, _ in page.tags if tag not in ("tr", "td")] == ["input", "img", "a", "span", "button"]
    tags = dict(page.tags)
    assert tags["input"]["aria-label"] == f"Select {HOSTILE}"  # one attribute, its value intact
    assert tags["img"]["src"] == HOSTILE
    assert HOSTILE in page.text
    assert "onmouseover" not in {name for _, attrs in page.tags for name in attrs}
