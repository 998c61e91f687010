"""Error reporting to Sentry, when SENTRY_DSN is set.

Personal data is not sent (no cookies, headers or bodies), so OAuth tokens
and passwords cannot leave through an error report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def init_sentry(config: Mapping[str, Any], component: str) -> bool:
    dsn = config.get("SENTRY_DSN")
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=config.get("ENVIRONMENT"),
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
    )
    sentry_sdk.set_tag("component", component)
    return True
