"""A Claude caller in a process of its own, for the cross-process breaker
tests: ``python -m tests.integration.breaker_client --model M ...``.

It builds the product's own pieces, ``optimizer.claude.ClaudeEngine`` behind
a ``reliability.breaker.CircuitBreaker`` shared through Redis (REDIS_URL),
with the breaker settings given on the command line, prints ``ready``, then
makes one call per line read from stdin ("call"), printing one JSON line per
call: the outcomes the engine reported for the usage ledger (``ok``,
``overloaded``, ``client_error``, ...), and ``breaker_open`` when the breaker
refused the call (never sent, so not in the ledger). The test decides
exactly when each process calls by writing to its stdin, so several processes
can call at the same moment without waiting for each other's start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import redis

from optimizer.claude import AllModelsFailed, ClaudeCall, ClaudeEngine, counts_as_failure
from optimizer.prompts import ChannelContext, VideoInput, build
from reliability.breaker import CircuitBreaker

BREAKER_NAME = "anthropic"


def breaker(client: redis.Redis, args: argparse.Namespace) -> CircuitBreaker:
    return CircuitBreaker(
        client,
        BREAKER_NAME,
        window_s=60,
        min_calls=args.min_calls,
        failure_rate=0.5,
        reset_timeout_s=args.reset_s,
        half_open_permits=args.permits,
        lease_ttl_s=args.lease_s,
        counts_as_failure=counts_as_failure,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--min-calls", type=int, default=4)
    parser.add_argument("--reset-s", type=float, default=2.0)
    parser.add_argument("--permits", type=int, default=2)
    parser.add_argument("--lease-s", type=float, default=60.0)
    parser.add_argument("--timeout-s", type=float, default=120.0)
    args = parser.parse_args()

    outcomes: list[str] = []
    engine = ClaudeEngine(
        api_key=args.api_key,
        base_url=args.base_url,
        models=[args.model],
        timeout_s=args.timeout_s,
        breaker=breaker(redis.Redis.from_url(os.environ["REDIS_URL"]), args),
        on_call=lambda call: outcomes.append(call.outcome) if isinstance(call, ClaudeCall) else None,
    )
    prompt = build(
        ChannelContext(name="Breaker test channel"),
        VideoInput(title="How to Make No-Knead Bread", description="", tags=[], transcript=None),
        {},
        2000,
    )
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "call":
            continue
        outcomes.clear()
        try:
            engine.suggest(prompt)
        except AllModelsFailed as exc:
            # A refusal is not a call (nothing reaches on_call); the engine says so in its reason.
            outcomes += [r.rsplit(": ", 1)[-1] for r in exc.reasons if r.endswith(": breaker_open")]
        print(json.dumps({"pid": os.getpid(), "outcomes": outcomes}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
