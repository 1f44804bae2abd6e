"""Errors raised by cdp-sync, and the exit code each one maps to.

Errors are raised where they happen and caught only at the CLI edge
(:mod:`cdp_sync.cli`), which prints a masked message and exits with the code of
the error's class::

    SyncError                         1  (anything not more specific)
    ├── ConfigError                   3  syncs YAML, profile, missing env var / token
    ├── WarehouseError                4  connection, missing relation, SQL failure
    │   └── SourceDataError           4  duplicate primary keys, missing columns
    ├── DestinationError              6  (base for destination failures)
    │   ├── DestinationAuthError      5  401/403: bad or missing credentials
    │   ├── DestinationUnavailable    6  retries exhausted, connection refused, timeouts
    │   └── BatchRejected             -  a whole batch refused (4xx); never escapes the
    │                                    engine, which splits the batch to isolate rows
    ├── ThresholdExceeded             7  the run finished but too many rows failed
    ├── SyncLocked                    8  another run of the same sync is in progress
    └── PlanHasChanges                9  ``plan --detailed-exitcode`` found pending changes

Exit code 0 means success, 2 is a usage error (typer/click), 130 an interrupt.
Messages never carry tokens or personal data: the CLI passes every message
through :class:`cdp_sync.masking.Redactor` before printing it.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class SyncError(Exception):
    """Base class; carries the process exit code for the CLI."""

    exit_code: ClassVar[int] = 1
    kind: ClassVar[str] = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(SyncError):
    exit_code = 3
    kind = "config_error"


class WarehouseError(SyncError):
    exit_code = 4
    kind = "warehouse_error"


class SourceDataError(WarehouseError):
    kind = "source_data_error"


class DestinationError(SyncError):
    exit_code = 6
    kind = "destination_error"


class DestinationAuthError(DestinationError):
    exit_code = 5
    kind = "destination_auth_error"


class DestinationUnavailable(DestinationError):
    exit_code = 6
    kind = "destination_unavailable"


class BatchRejected(DestinationError):
    """The destination refused a whole request (4xx other than auth/rate limits).

    The engine splits the batch and retries the halves, so a single bad row ends
    up recorded as failed with ``message`` while the others go through.
    """

    kind = "batch_rejected"

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ThresholdExceeded(SyncError):
    exit_code = 7
    kind = "threshold_exceeded"


class SyncLocked(SyncError):
    exit_code = 8
    kind = "sync_locked"


class PlanHasChanges(SyncError):
    exit_code = 9
    kind = "plan_has_changes"
