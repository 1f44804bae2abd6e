"""The vocabulary of a sync's diff: operations, which modes send which, and the
per-row records and outcomes that flow between the engine and destinations.

A row's operation comes from comparing the audience with the sync's state table
(see :meth:`cdp_sync.warehouse.SyncStore._diff_sql`):

* ``add``: in the audience, never accepted by the destination;
* ``change``: accepted before, but its hash differs or a send was left unconfirmed;
* ``remove``: accepted before, no longer in the audience (mirror mode only);
* ``delete``: the customer was erased (tombstone) and the destination may hold
  them; sent in every mode, never given up on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cdp_sync.config import Mode


class Op(StrEnum):
    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"
    DELETE = "delete"


OPS_BY_MODE: dict[Mode, tuple[Op, ...]] = {
    Mode.UPSERT: (Op.ADD, Op.CHANGE, Op.DELETE),
    Mode.INSERT_ONLY: (Op.ADD, Op.DELETE),
    Mode.UPDATE_ONLY: (Op.CHANGE, Op.DELETE),
    Mode.MIRROR: (Op.ADD, Op.CHANGE, Op.REMOVE, Op.DELETE),
}


class Status(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


class Effect(StrEnum):
    """What the destination holds for the row after the attempt."""

    SYNCED = "synced"  # the version we sent (state: synced_hash = target)
    GONE = "gone"  # nothing (state row forgotten)
    REJECTED = "rejected"  # what it had before (state: count the failed attempt)


@dataclass
class Record:
    """One row to send. ``fields`` are destination field -> value."""

    pk: str
    op: Op
    fields: dict[str, Any]
    target_hash: str
    attempt: int = 1
    destination_id: str | None = None


@dataclass
class RowOutcome:
    pk: str
    status: Status
    error: str | None = None
    destination_id: str | None = None
    # For SKIPPED rows: does the destination hold the row as we want it?
    synced: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, pk: str, destination_id: str | None = None) -> RowOutcome:
        return cls(pk, Status.SUCCESS, destination_id=destination_id)

    @classmethod
    def failed(cls, pk: str, error: str) -> RowOutcome:
        return cls(pk, Status.FAILED, error=error)

    @classmethod
    def skipped(cls, pk: str, reason: str, synced: bool, destination_id: str | None = None) -> RowOutcome:
        return cls(pk, Status.SKIPPED, error=reason, synced=synced, destination_id=destination_id)

    def effect(self, op: Op) -> Effect:
        if self.status == Status.FAILED:
            return Effect.REJECTED
        if op in (Op.REMOVE, Op.DELETE):
            return Effect.GONE
        if self.status == Status.SUCCESS or self.synced:
            return Effect.SYNCED
        return Effect.REJECTED
