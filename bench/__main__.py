"""``python -m bench``: run every benchmark, one after the other."""

from __future__ import annotations

import sys

from bench import login_vs_hello


def main(argv: list[str]) -> int:
    return login_vs_hello.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
