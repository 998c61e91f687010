"""GzipTemplate (webapp/compression.py): the gzip member it fills in is the
text with the values in its slots, for any text, slots anywhere (first,
last, side by side, repeated) and values of any size (past one stored
block's 65,535 bytes too), as Python's own gzip reader sees it."""

from __future__ import annotations

import gzip
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.compression import GzipTemplate

SLOTS = ("CSRFSLOT", "KEYSLOT")
pieces = st.lists(st.one_of(st.sampled_from(SLOTS), st.text(max_size=300), st.just("<tr><td>row</td></tr>" * 200)))


@settings(max_examples=200, deadline=None)
@given(parts=pieces, token=st.text(max_size=200), key=st.text(max_size=40))
def test_the_filled_member_is_the_filled_text(parts, token, key):
    text = "".join(parts)
    body = GzipTemplate(text, SLOTS).fill({"CSRFSLOT": token, "KEYSLOT": key})
    assert gzip.decompress(body).decode() == text.replace("CSRFSLOT", token).replace("KEYSLOT", key)


def test_a_value_longer_than_one_stored_block():
    template = GzipTemplate("<p>CSRFSLOT</p>KEYSLOT", SLOTS)
    long = "é" * 70_000  # 140,000 bytes: three stored blocks
    assert gzip.decompress(template.fill({"CSRFSLOT": long, "KEYSLOT": "k"})).decode() == f"<p>{long}</p>k"


def test_the_fixed_parts_are_compressed_and_the_trailer_checked():
    text = "<tr><td>a row of the table</td></tr>\n" * 1000 + "CSRFSLOT"
    body = GzipTemplate(text, SLOTS).fill({"CSRFSLOT": "t" * 90})
    assert len(body) < len(text) / 10
    corrupt = body[:-8] + (int.from_bytes(body[-8:-4], "little") ^ 1).to_bytes(4, "little") + body[-4:]
    try:
        gzip.decompress(corrupt)
    except gzip.BadGzipFile:
        pass  # the CRC covers every part, the values included
    else:
        raise AssertionError("a wrong CRC was accepted")
    # A raw deflate reader ends exactly at the member's trailer: no stray bytes.
    reader = zlib.decompressobj(-zlib.MAX_WBITS)
    reader.decompress(body[10:])
    assert reader.eof and reader.unused_data == body[-8:]
