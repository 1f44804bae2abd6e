"""Plan and run a sync: the diff comes from the warehouse, batches go to the
destination, and state is committed after each confirmed batch.

Crash safety, step by step for every batch:

1. ``mark_pending``: the rows are recorded as in flight (op + target hash) and
   committed *before* anything is sent;
2. the batch is sent (split on whole-batch rejection, retried by the HTTP layer);
3. ``commit_batch``: per-row results, state and run counters in one transaction.

A process killed between 1 and 3 leaves rows marked pending. The next diff
treats a pending row as uncertain: it is sent again (upserts and removals are
idempotent), or removed if it left the audience meanwhile, so nothing
confirmed is resent and nothing unconfirmed is lost.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cdp_sync.config import SyncConfig
from cdp_sync.destinations.base import Destination
from cdp_sync.errors import BatchRejected, SyncError, SyncLocked
from cdp_sync.masking import REDACTOR, is_pii_field, mask_record
from cdp_sync.progress import Reporter
from cdp_sync.state import Effect, Op, Record, RowOutcome, Status
from cdp_sync.warehouse import SyncStore, Warehouse, utcnow

log = logging.getLogger(__name__)

LOCK_TIMEOUT = timedelta(minutes=15)
FAILPOINT_ENV = "CDP_SYNC_FAILPOINT"


def _failpoint(name: str, batch_no: int) -> None:
    """Test hook: ``CDP_SYNC_FAILPOINT=after_send:2`` SIGKILLs this process right
    after batch 2 was confirmed by the destination and before its state commit.
    Points: ``after_mark`` (in flight, nothing sent), ``after_send``, ``after_commit``."""
    spec = os.environ.get(FAILPOINT_ENV)
    if not spec:
        return
    point, _, number = spec.partition(":")
    if point == name and str(batch_no) == (number or "1"):
        os.kill(os.getpid(), signal.SIGKILL)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pii_names(sync: SyncConfig) -> set[str]:
    """Destination fields holding personal data (by their or their column's name)."""
    return {
        dest
        for dest, col in sync.mapping.items()
        if is_pii_field(dest, sync.pii_fields) or is_pii_field(col, sync.pii_fields)
    }


# --- plan -------------------------------------------------------------------------------


def plan(sync: SyncConfig, wh: Warehouse, schema: str, sample_size: int = 5) -> dict[str, Any]:
    """Counts and a masked sample of what ``run`` would do. Reads only."""
    store = SyncStore(wh, sync, schema)
    check = store.check_source()
    warnings: list[str] = []
    if check.null_keys:
        warnings.append(f"{check.null_keys} source rows have a null {sync.primary_key}; skipped")
    if sync.tombstone and not store.tombstone_available():
        warnings.append(f"tombstone relation {sync.tombstone} not found; erasures are not checked")
    counts = store.plan_counts()
    pii = pii_names(sync)
    sample = []
    for row in store.plan_sample(sample_size) if sample_size > 0 else []:
        fields = row["fields"] if row["op"] in ("add", "change") else {}
        sample.append(
            {
                "op": row["op"],
                "primary_key": row["pk"],
                "attempt": row["attempt"],
                "fields": mask_record(fields, pii),
                **({"last_error": REDACTOR.scrub(row["last_error"])} if row["last_error"] else {}),
            }
        )
    return {
        "sync": sync.name,
        "source": sync.source,
        "destination": sync.destination.type,
        "mode": sync.mode.value,
        "source_rows": check.rows,
        "state_exists": store.state_exists(),
        "counts": counts,
        "sample": sample,
        "warnings": warnings,
    }


# --- run ----------------------------------------------------------------------------------


@dataclass
class Counters:
    planned: int = 0
    exhausted: int = 0
    by_op: dict[str, int] = field(default_factory=lambda: {op.value: 0 for op in Op})
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def attempted(self) -> int:
        return self.succeeded + self.failed + self.skipped

    @property
    def failure_rate(self) -> float:
        return self.failed / self.attempted if self.attempted else 0.0

    def record(self, op: Op, outcome: RowOutcome) -> None:
        if outcome.status == Status.SUCCESS:
            self.succeeded += 1
            self.by_op[op.value] += 1
        elif outcome.status == Status.FAILED:
            self.failed += 1
        else:
            self.skipped += 1

    def run_columns(self) -> dict[str, Any]:
        return {
            "rows_planned": self.planned,
            "rows_added": self.by_op["add"],
            "rows_changed": self.by_op["change"],
            "rows_removed": self.by_op["remove"],
            "rows_deleted": self.by_op["delete"],
            "rows_succeeded": self.succeeded,
            "rows_failed": self.failed,
            "rows_skipped": self.skipped,
            "rows_exhausted": self.exhausted,
            "failure_rate": round(self.failure_rate, 6),
        }


@dataclass
class _Batch:
    no: int
    op: Op
    records: list[Record]
    pii_keys: list[str]


class SyncRunner:
    def __init__(
        self,
        sync: SyncConfig,
        wh: Warehouse,
        dest: Destination,
        reporter: Reporter,
        *,
        schema: str = "cdp_sync",
        target_name: str = "",
    ) -> None:
        self.sync = sync
        self.wh = wh
        self.dest = dest
        self.reporter = reporter
        self.store = SyncStore(wh, sync, schema)
        self.target_name = target_name
        self.pii = pii_names(sync)
        self.counters = Counters()
        self.run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"

    # ---- locking ------------------------------------------------------------------------

    def _acquire(self, force: bool) -> None:
        host = socket.gethostname()
        stale: list[str] = []
        for run in self.store.active_runs():
            same_host = run.get("host") == host
            heartbeat = run.get("heartbeat_at") or run.get("started_at")
            old = heartbeat is None or utcnow() - heartbeat > LOCK_TIMEOUT
            dead = (same_host and not _pid_alive(run.get("pid"))) or (not same_host and old)
            if force or dead:
                stale.append(run["run_id"])
            else:
                raise SyncLocked(
                    f"sync {self.sync.name} is being run by run {run['run_id']} "
                    f"(pid {run.get('pid')} on {run.get('host')}); if that process is gone, "
                    "pass --force-unlock"
                )
        if stale:
            self.store.mark_runs(stale, "interrupted", "the process stopped before the run finished")
            self.reporter.warning(
                self.sync.name,
                f"{len(stale)} earlier run(s) had been interrupted; unconfirmed rows are resent",
            )

    # ---- the run -------------------------------------------------------------------------

    def run(self, force_unlock: bool = False) -> dict[str, Any]:
        sync, store = self.sync, self.store
        store.ensure_tables()
        self._acquire(force_unlock)
        store.start_run(self.run_id, self.target_name, socket.gethostname(), os.getpid())
        status, error = "failed", None
        try:
            check = store.check_source()
            if check.null_keys:
                self.reporter.warning(
                    sync.name, f"{check.null_keys} source rows have a null {sync.primary_key}"
                )
            if sync.tombstone and not store.tombstone_available():
                self.reporter.warning(
                    sync.name, f"tombstone relation {sync.tombstone} not found; erasures skipped"
                )
            store.housekeeping()
            counts = store.build_work()
            self.counters.planned = sum(counts[op.value] for op in Op)
            self.counters.exhausted = counts["exhausted"]
            store.update_run(self.run_id, self.counters.run_columns())
            self.reporter.run_started(sync.name, self.run_id, counts)
            if self.counters.planned:
                self.dest.open()
                self._push()
            status = "success"
        except KeyboardInterrupt:
            status, error = "interrupted", "interrupted by the user"
            raise
        except SyncError as exc:
            error = REDACTOR.scrub(exc.message)
            raise
        except Exception as exc:
            error = REDACTOR.scrub(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.dest.close()
            summary = self._finish(status, error)
        return summary

    def _finish(self, status: str, error: str | None) -> dict[str, Any]:
        c = self.counters
        exceeded = status == "success" and c.failure_rate > self.sync.failure_threshold
        if exceeded:
            status = "failed"
            error = (
                f"{c.failed} of {c.attempted} rows failed ({c.failure_rate:.1%}), more than "
                f"the failure threshold {self.sync.failure_threshold:.1%}"
            )
        cols = {
            **c.run_columns(),
            "status": status,
            "finished_at": utcnow(),
            "error_message": error,
        }
        try:
            self.store.update_run(self.run_id, cols)
        except SyncError as exc:  # the warehouse itself may be what failed
            log.warning("could not record the end of run %s: %s", self.run_id, exc.message)
        summary = {
            "run_id": self.run_id,
            "status": status,
            "threshold_exceeded": exceeded,
            "failure_threshold": self.sync.failure_threshold,
            **{k: v for k, v in c.run_columns().items()},
            "error": error,
        }
        self.reporter.run_finished(self.sync.name, summary)
        return summary

    def _batches(self) -> list[tuple[int, Op, int, int]]:
        out: list[tuple[int, Op, int, int]] = []
        for op_name, lo, hi in self.store.work_ranges():
            op = Op(op_name)
            size = max(1, self.dest.max_batch_size(op))
            for start in range(lo, hi + 1, size):
                out.append((len(out) + 1, op, start, min(start + size - 1, hi)))
        return out

    def _push(self) -> None:
        concurrency = max(1, self.dest.concurrency)
        inflight: dict[Future[list[RowOutcome]], _Batch] = {}
        first_error: BaseException | None = None
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cdp-sync") as pool:
            try:
                for no, op, lo, hi in self._batches():
                    while len(inflight) >= concurrency:
                        self._drain(inflight, FIRST_COMPLETED)
                    batch = self._prepare(no, op, lo, hi)
                    inflight[pool.submit(self._send_isolating, op, batch.records)] = batch
                while inflight:
                    self._drain(inflight, FIRST_COMPLETED)
            except BaseException as exc:
                first_error = exc
            # Whatever happened, commit every batch the destination confirmed.
            while inflight:
                try:
                    self._drain(inflight, FIRST_COMPLETED)
                except BaseException as exc:  # noqa: BLE001 - keep the first error
                    first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def _prepare(self, no: int, op: Op, lo: int, hi: int) -> _Batch:
        records = [
            Record(
                pk=str(row["pk"]),
                op=op,
                fields=row["fields"],
                target_hash=str(row["target_hash"]),
                attempt=int(row["attempt"] or 1),
                destination_id=row["destination_id"],
            )
            for row in self.store.work_page(lo, hi)
        ]
        self.store.mark_pending(self.run_id, [(r.pk, op.value, r.target_hash, r.attempt) for r in records])
        _failpoint("after_mark", no)
        keys = REDACTOR.add_known((name, r.fields.get(name)) for r in records for name in self.pii)
        return _Batch(no, op, records, keys)

    def _send_isolating(self, op: Op, records: Sequence[Record]) -> list[RowOutcome]:
        """Send; when the vendor refuses the whole request, halve until the bad rows
        stand alone and record them with the vendor's message."""
        try:
            return self.dest.send(op, records)
        except BatchRejected as exc:
            if len(records) == 1:
                return [RowOutcome.failed(records[0].pk, exc.message)]
            mid = len(records) // 2
            log.info("batch of %d refused (%s); splitting", len(records), exc.status_code)
            return self._send_isolating(op, records[:mid]) + self._send_isolating(op, records[mid:])

    def _drain(self, inflight: dict[Future[list[RowOutcome]], _Batch], how: str) -> None:
        done, _ = wait(list(inflight), return_when=how)
        error: BaseException | None = None
        for fut in sorted(done, key=lambda f: inflight[f].no):
            batch = inflight.pop(fut)
            try:
                outcomes = fut.result()
            except BaseException as exc:
                error = error or exc
                continue
            _failpoint("after_send", batch.no)
            self._commit(batch, outcomes)
            _failpoint("after_commit", batch.no)
        if error is not None:
            raise error

    def _commit(self, batch: _Batch, outcomes: list[RowOutcome]) -> None:
        rows = []
        failed_here = 0
        for record, outcome in zip(batch.records, outcomes, strict=True):
            error = REDACTOR.scrub(outcome.error, extra_known=record.fields) if outcome.error else None
            effect: Effect = outcome.effect(batch.op)
            rows.append(
                (
                    record.pk,
                    batch.op.value,
                    record.target_hash,
                    record.attempt,
                    outcome.status.value,
                    effect.value,
                    error,
                    outcome.destination_id,
                )
            )
            self.counters.record(batch.op, outcome)
            if outcome.status == Status.FAILED:
                failed_here += 1
                self.reporter.row_failed(
                    self.sync.name,
                    {
                        "primary_key": record.pk,
                        "op": batch.op.value,
                        "attempt": record.attempt,
                        "final": record.attempt >= self.sync.max_attempts and batch.op != Op.DELETE,
                        "error": error,
                    },
                )
        self.store.commit_batch(self.run_id, batch.no, rows, self.counters.run_columns())
        REDACTOR.forget(batch.pii_keys)
        self.reporter.batch_done(
            self.sync.name,
            {
                "batch": batch.no,
                "op": batch.op.value,
                "rows": len(rows),
                "failed": failed_here,
                "succeeded_total": self.counters.succeeded,
                "failed_total": self.counters.failed,
                "done_total": self.counters.attempted,
                "planned": self.counters.planned,
            },
        )
