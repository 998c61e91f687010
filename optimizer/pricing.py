"""Claude prices, dated: dollars per million tokens.

Prices change; keep the date with them and update both together. Cache
writes (5-minute TTL) cost 1.25× the input price and cache reads 0.1×.
A model missing from the table is priced at the most expensive known rate,
so the cost cap errs on the side of caution.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PRICES_AS_OF = "2026-11-01"
PER_MILLION = {
    # model: (input, output)
    "claude-opus-4-6": (Decimal("5.00"), Decimal("25.00")),
    "claude-opus-4-5": (Decimal("5.00"), Decimal("25.00")),
    "claude-sonnet-4-6": (Decimal("3.00"), Decimal("15.00")),
    "claude-sonnet-4-5": (Decimal("3.00"), Decimal("15.00")),
    "claude-haiku-4-5": (Decimal("1.00"), Decimal("5.00")),
}
CACHE_WRITE_FACTOR = Decimal("1.25")
CACHE_READ_FACTOR = Decimal("0.10")
SERPAPI_PER_SEARCH = Decimal("0.015")  # the Developer plan: $75 for 5,000 searches


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


def _rates(model: str) -> tuple[Decimal, Decimal]:
    for name, rates in PER_MILLION.items():
        if model == name or model.startswith(name + "-"):  # dated ids such as claude-haiku-4-5-20251001
            return rates
    return max(PER_MILLION.values())


def cost_usd(model: str, usage: Usage) -> Decimal:
    input_rate, output_rate = _rates(model)
    total = (
        usage.input_tokens * input_rate
        + usage.cache_write_tokens * input_rate * CACHE_WRITE_FACTOR
        + usage.cache_read_tokens * input_rate * CACHE_READ_FACTOR
        + usage.output_tokens * output_rate
    )
    return (total / Decimal(1_000_000)).quantize(Decimal("0.000001"))
