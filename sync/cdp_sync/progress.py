"""Run progress: a rich progress bar on a terminal, JSON lines with ``--json``,
and nothing at all when output is piped without ``--json``.

Every message that reaches a reporter is already masked by the engine.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Reporter(Protocol):
    def run_started(self, sync: str, run_id: str, counts: dict[str, int]) -> None: ...

    def batch_done(self, sync: str, info: dict[str, Any]) -> None: ...

    def row_failed(self, sync: str, info: dict[str, Any]) -> None: ...

    def warning(self, sync: str, message: str) -> None: ...

    def run_finished(self, sync: str, summary: dict[str, Any]) -> None: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLinesReporter:
    """One JSON object per line on ``stream`` (stdout): machine-readable for CI."""

    def __init__(self, stream: TextIO | None = None, max_row_events: int = 1000) -> None:
        self.stream = stream or sys.stdout
        self.max_row_events = max_row_events
        self._row_events = 0

    def emit(self, event: str, **data: Any) -> None:
        self.stream.write(json.dumps({"event": event, "at": _now(), **data}, default=str) + "\n")
        self.stream.flush()

    def run_started(self, sync: str, run_id: str, counts: dict[str, int]) -> None:
        self.emit("run_started", sync=sync, run_id=run_id, planned=counts)

    def batch_done(self, sync: str, info: dict[str, Any]) -> None:
        self.emit("batch", sync=sync, **info)

    def row_failed(self, sync: str, info: dict[str, Any]) -> None:
        self._row_events += 1
        if self._row_events <= self.max_row_events:
            self.emit("row_failed", sync=sync, **info)

    def warning(self, sync: str, message: str) -> None:
        self.emit("warning", sync=sync, message=message)

    def run_finished(self, sync: str, summary: dict[str, Any]) -> None:
        self.emit("run_finished", sync=sync, **summary)


class ConsoleReporter:
    """A progress bar (stderr) when it is a terminal; warnings always."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None

    def run_started(self, sync: str, run_id: str, counts: dict[str, int]) -> None:
        total = sum(counts.get(k, 0) for k in ("add", "change", "remove", "delete"))
        if self.console.is_terminal and total:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("[red]{task.fields[failed]} failed"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(sync, total=total, failed=0)

    def batch_done(self, sync: str, info: dict[str, Any]) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=info.get("rows", 0), failed=info.get("failed_total", 0))

    def row_failed(self, sync: str, info: dict[str, Any]) -> None:
        pass

    def warning(self, sync: str, message: str) -> None:
        self.console.print(f"[yellow]warning[/] {sync}: {message}", highlight=False)

    def run_finished(self, sync: str, summary: dict[str, Any]) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
