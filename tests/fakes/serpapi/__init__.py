"""A local HTTP fake of SerpApi (GET /search for engine=youtube and engine=google_autocomplete, GET /account).

Modules: fake (FakeSerpApi, counters, faults, the fixture), app (the
endpoints and SerpApi's error bodies), results (deterministic result JSON).
"""

from .app import INVALID_KEY, OUT_OF_SEARCHES
from .fake import FakeSerpApi, RecordedRequest, SerpFault, fake_serpapi_fixture

__all__ = ["INVALID_KEY", "OUT_OF_SEARCHES", "FakeSerpApi", "RecordedRequest", "SerpFault", "fake_serpapi_fixture"]
