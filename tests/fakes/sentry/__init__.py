from .fake import FakeSentry, fake_sentry_fixture

__all__ = ["FakeSentry", "fake_sentry_fixture"]
