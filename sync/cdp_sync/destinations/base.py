"""The interface every destination implements, and helpers they share.

A destination receives batches of :class:`~cdp_sync.state.Record` (all of one
operation, at most :meth:`Destination.max_batch_size` long) and returns one
:class:`~cdp_sync.state.RowOutcome` per record. It must:

* be idempotent: a batch may be resent after a crash (upserts keyed by the
  vendor's natural id; removing something already gone is a success);
* report per-row failures from partial-success responses as ``failed`` outcomes
  carrying the vendor's message;
* raise :class:`~cdp_sync.errors.BatchRejected` when the vendor refuses the
  whole request with a 4xx, so the engine can split the batch and isolate the
  bad rows;
* do all HTTP through ``self.http`` (:class:`cdp_sync.http.HttpClient`), which
  owns retries, backoff and rate limits.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from cdp_sync.config import Mode, SyncConfig
from cdp_sync.http import HttpClient
from cdp_sync.state import Op, Record, RowOutcome


def jsonable(value: Any) -> Any:
    """A JSON-friendly form of a warehouse value."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # warehouse timestamps are UTC
            return value.isoformat() + "Z"
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def as_text(value: Any) -> str:
    """Vendor string form (HubSpot properties, merge fields): '' for null."""
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def complete(records: Sequence[Record], outcomes: Sequence[RowOutcome]) -> list[RowOutcome]:
    """One outcome per record, in record order; a record the vendor did not
    mention is a failure, never silently a success."""
    by_pk = {o.pk: o for o in outcomes}
    return [
        by_pk.get(r.pk) or RowOutcome.failed(r.pk, "the destination did not report this row") for r in records
    ]


class Destination(ABC):
    kind: ClassVar[str]
    default_concurrency: ClassVar[int] = 4

    def __init__(self, sync: SyncConfig, project_dir: Path) -> None:
        self.sync = sync
        self.project_dir = project_dir
        self.http: HttpClient | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def open(self) -> None:  # noqa: B027 - optional hook, a no-op for the file destination
        """Read credentials and create the run's HTTP client. Called once per run."""

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None

    @property
    def concurrency(self) -> int:
        return self.sync.http.concurrency or self.default_concurrency

    @property
    def creates(self) -> bool:
        return self.sync.mode != Mode.UPDATE_ONLY

    @property
    def updates(self) -> bool:
        return self.sync.mode != Mode.INSERT_ONLY

    def max_batch_size(self, op: Op) -> int:
        return self.sync.effective_batch_size

    # ---- operations ------------------------------------------------------------------

    @abstractmethod
    def check(self) -> str:
        """Verify credentials and connectivity without changing anything; return what
        was checked. Raise a DestinationError/ConfigError on failure."""

    @abstractmethod
    def upsert(self, records: Sequence[Record]) -> list[RowOutcome]:
        """Add/change rows, honouring ``creates``/``updates`` for the sync's mode."""

    @abstractmethod
    def remove(self, records: Sequence[Record]) -> list[RowOutcome]:
        """Rows that left the audience (mirror mode), per the destination's removal policy."""

    @abstractmethod
    def delete(self, records: Sequence[Record]) -> list[RowOutcome]:
        """Erased customers: delete (or archive) them for good."""

    def send(self, op: Op, records: Sequence[Record]) -> list[RowOutcome]:
        if not records:
            return []
        if op in (Op.ADD, Op.CHANGE):
            outcomes = self.upsert(records)
        elif op == Op.REMOVE:
            outcomes = self.remove(records)
        else:
            outcomes = self.delete(records)
        return complete(records, outcomes)
