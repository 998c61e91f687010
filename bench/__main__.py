"""``python -m bench``: run every benchmark, one after the other.

Arguments after the command go to the login benchmark (see
``python -m bench.login_vs_hello --help``); each other benchmark runs with
its defaults and can be run alone as ``python -m bench.NAME``.
"""

from __future__ import annotations

import sys

from bench import api_videos, channel_page, experiments, load, login_vs_hello, metrics_overhead, sync_quota


def main(argv: list[str]) -> int:
    status = login_vs_hello.main(argv)
    status = sync_quota.main([]) or status
    try:
        from bench import batch
    except ImportError:  # the batch benchmark arrives with the engine's tests
        pass
    else:
        status = batch.main([]) or status
    status = channel_page.main([]) or status
    status = metrics_overhead.main([]) or status
    status = api_videos.main([]) or status
    status = experiments.main([]) or status
    return load.main([]) or status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
