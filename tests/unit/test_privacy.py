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
