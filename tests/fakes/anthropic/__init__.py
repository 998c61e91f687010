"""A local HTTP fake of the Anthropic Messages API (POST /v1/messages, /v1/messages/count_tokens).

Modules: fake (FakeAnthropic, counters, the fixture), app (the request
pipeline), validation (what the API refuses), answers (the default
optimization answer, schema fitting, content blocks), caching (token counting
and prompt caching), faults (injected failures), errors (Anthropic's error
envelope).
"""

from .answers import Reply, conform, default_answer, hostile_answer, sloppy_tags_answer
from .caching import count_tokens
from .fake import KNOWN_MODELS, FakeAnthropic, RecordedRequest, UsageTotals, fake_anthropic_fixture
from .faults import Fault

__all__ = [
    "KNOWN_MODELS",
    "FakeAnthropic",
    "Fault",
    "RecordedRequest",
    "Reply",
    "UsageTotals",
    "conform",
    "count_tokens",
    "default_answer",
    "hostile_answer",
    "fake_anthropic_fixture",
    "sloppy_tags_answer",
]
