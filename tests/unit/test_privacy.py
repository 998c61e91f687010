"""What leaves the machine for Claude and SerpAPI (optimizer/privacy.py):
phone numbers as the screening reads them (optimizer/untrusted.py), emails,
and links that carry credentials, each replaced by a placeholder."""

from __future__ import annotations

import pytest

from optimizer.privacy import scrub


@pytest.mark.parametrize(
    "number", ["+1 415-555-0123", "+49 30 1234567", "30 1234567", "0412 345 678", "(020) 7946 0958", "415.555.0100"]
)
def test_phone_numbers_are_replaced(number):
    assert scrub(f"Call {number} today") == "Call [phone removed] today"


@pytest.mark.parametrize("text", ["Top 10 of 2024", "3.14159265", "123456789 views", "1,234,567,890 streams"])
def test_numbers_that_are_no_phone_stay(text):
    assert scrub(text) == text


def test_emails_and_links_with_credentials_go_plain_links_stay():
    text = "Mail maya@example.com or shop https://shop.example.com/cart?token=abc and see https://example.com/recipes"
    assert scrub(text) == (
        "Mail [email removed] or shop https://shop.example.com/[link with credentials removed] "
        "and see https://example.com/recipes"
    )


@pytest.mark.parametrize(
    ("link", "kept"),
    [
        ("www.shop.example.com/cart?token=abc", "shop.example.com/[link with credentials removed]"),
        ("shop.example.com/cart?session=abc", "shop.example.com/[link with credentials removed]"),
        ("//shop.example.com/cart?key=abc", "shop.example.com/[link with credentials removed]"),
        ("203.0.113.9:8080/admin?password=hunter2", "203.0.113.9/[link with credentials removed]"),
        ("ftp://maya:pw@files.example.com/raw", "ftp://files.example.com/[link with credentials removed]"),
    ],
)
def test_links_with_credentials_go_however_they_are_written(link, kept):
    """Every form the screening reads as a link (optimizer/untrusted.py's
    URL), not only http(s)://: a link without a scheme carried its token
    to Claude and SerpAPI."""
    scrubbed = scrub(f"Order at {link} today")
    assert "abc" not in scrubbed and "hunter2" not in scrubbed and "maya:pw" not in scrubbed
    assert kept in scrubbed and scrubbed.startswith("Order at ") and scrubbed.endswith(" today")


@pytest.mark.parametrize("after", [",", ".", ")", "!", ";"])
def test_the_sentence_after_a_removed_link_keeps_its_punctuation(after):
    text = f"(Cart: https://shop.example.com/cart?token=abc{after} then pay)"
    assert scrub(text) == f"(Cart: https://shop.example.com/[link with credentials removed]{after} then pay)"


def test_plain_links_and_names_stay_exactly_as_written():
    text = "See example.com, www.example.org/recipes. Or https://example.com/a?b=1, node.js and main.py."
    assert scrub(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "www.site.com/r?next=https://x.io/cb?token=abc123 ok",
        "google.com/url?q=https://bob:s3cr3t!x@corp.example.com ok",
        "https://t.co/r?u=https%3A%2F%2Fx.io%2F%3Fpassword%3D1&access_token=abc123 ok",
    ],
)
def test_a_link_inside_a_link_gives_nothing_of_its_credentials_away(text):
    """The screening's link pattern takes the outer link whole: the
    credentials of the one it carries count for it (found in review)."""
    scrubbed = scrub(text)
    assert "abc123" not in scrubbed and "s3cr3t" not in scrubbed and "bob" not in scrubbed
    assert "[link with credentials removed]" in scrubbed and scrubbed.endswith(" ok")


@pytest.mark.parametrize(
    "text",
    [
        "[www.example.com](https://www.example.com)",  # a markdown link pasted into a description
        "see //]x and [www.a.com]",
        "amazon.com/s?keywords=shoes and example.com/a?author=me",
    ],
)
def test_text_that_urlsplit_cannot_read_or_ordinary_parameters_stay_as_written(text):
    assert scrub(text) == text


def test_a_link_with_credentials_that_urlsplit_cannot_read_still_goes():
    assert scrub("[www.x.com]/cb?token=abc123 ok") == "[[link with credentials removed] ok"
