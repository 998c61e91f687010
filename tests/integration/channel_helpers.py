"""Shared steps for the channel page tests: logged-in users, the demo channel,
posting forms with a real CSRF token, reading the video table's rows, and
plain SQL on the test database (outside the app's own pool)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extras

from tests.helpers import csrf_from, register

HTMX_TABLE = {"HX-Request": "true", "HX-Target": "video-table"}


def user_client(app, email: str):
    """A test client of ``app`` logged in as a newly registered ``email``."""
    client = app.test_client()
    response = register(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def post_form(client, url: str, data: dict | None = None, *, csrf_page: str = "/channels", **kwargs):
    """POST ``data`` with a valid CSRF token of the client's session."""
    token = csrf_from(client.get(csrf_page).get_data(as_text=True))
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)


def import_demo(client) -> int:
    """Click "Try a demo channel"; returns the new channel's id."""
    response = post_form(client, "/channels/demo")
    assert response.status_code == 302, response.get_data(as_text=True)
    path = urlsplit(response.headers["Location"]).path
    assert path.startswith("/channels/"), path
    return int(path.rsplit("/", 1)[1])


def query(database_url: str, statement: str, params=()) -> list[dict]:
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def user_id(database_url: str, email: str) -> int:
    [row] = query(database_url, "SELECT id FROM users WHERE lower(email) = lower(%s)", (email,))
    return row["id"]


class _Table(HTMLParser):
    """The header texts and the text of each cell of each body row of the
    first table on the page (the video table)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self._section: str | None = None
        self._cell: list[str] | None = None
        self._done = False

    def handle_starttag(self, tag, attrs):
        if self._done:
            return
        if tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr" and self._section == "tbody":
            self.rows.append([])
        elif tag in ("th", "td") and self._section:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self._section:
            self._done, self._section = True, None
        elif tag in ("th", "td") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            (self.headers if self._section == "thead" else self.rows[-1]).append(text)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def video_rows(html: str) -> list[dict]:
    """Rows of the video table by column name: title (badges included),
    published, views, likes, visibility. Found by header, so added columns
    (checkboxes, buttons) do not matter."""
    parser = _Table()
    parser.feed(html)
    rows = []
    for cells in parser.rows:
        by_header = dict(zip(parser.headers, cells, strict=True))
        rows.append(
            {
                "title": by_header["Title"],
                "published": by_header["Published"],
                "views": int(by_header["Views"].replace(",", "")),
                "likes": int(by_header["Likes"].replace(",", "")),
                "visibility": by_header["Visibility"],
            }
        )
    return rows
