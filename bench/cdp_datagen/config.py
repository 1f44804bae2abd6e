"""Run configuration and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

DAY = 86_400
HOUR = 3_600
DEFAULT_NOW = "2026-11-01T12:00:00Z"
# Fixed so the output depends only on the arguments, never on memory or core count.
CHUNK_PEOPLE = 100_000


def parse_now(text: str) -> int:
    """ISO-8601 instant to epoch seconds; a naive value is taken as UTC."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


@dataclass(frozen=True)
class GenConfig:
    people: int
    seed: int = 42
    now_s: int = parse_now(DEFAULT_NOW)
    events_per_person: float = 10.0
    history_days: int = 730
    chunk_people: int = CHUNK_PEOPLE

    @property
    def token_space(self) -> int:
        """Size of the numeric email-suffix space: a power of ten above the population, so
        suffixes look like ordinary numbers (jsmith482) and never repeat."""
        space = 1000
        while space < self.people:
            space *= 10
        return space
