"""File destination: keeps a CSV or JSONL snapshot of the audience on disk.

The file always holds exactly the rows the destination has accepted (one per
primary key, sorted by key). Each batch rewrites it atomically (temporary file
in the same directory, fsync, ``os.replace``), so a crash leaves either the
old or the new snapshot, never a torn one, and a resent batch is a no-op.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cdp_sync.config import FileDestination as FileConfig
from cdp_sync.config import SyncConfig
from cdp_sync.destinations.base import Destination, as_text, jsonable
from cdp_sync.errors import ConfigError, DestinationUnavailable
from cdp_sync.state import Record, RowOutcome


class FileDestination(Destination):
    kind = "file"
    default_concurrency = 1

    def __init__(self, sync: SyncConfig, project_dir: Path) -> None:
        super().__init__(sync, project_dir)
        assert isinstance(sync.destination, FileConfig)
        self.config: FileConfig = sync.destination
        path = Path(self.config.path)
        self.path = path if path.is_absolute() else project_dir / path
        self.format = self.config.resolved_format
        self.key = sync.primary_key
        self.columns = [self.key, *[f for f in sync.mapping if f != self.key]]
        self._rows: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    @property
    def concurrency(self) -> int:
        return 1

    def check(self) -> str:
        parent = self.path.parent
        probe = parent
        while not probe.exists():
            probe = probe.parent
        if not os.access(probe, os.W_OK):
            raise ConfigError(f"file destination: {probe} is not writable")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise ConfigError(f"file destination: {self.path} is not writable")
        state = "exists" if self.path.exists() else "will be created"
        return f"{self.format} file {self.path} ({state}, directory writable)"

    def open(self) -> None:
        self._rows = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return rows
        try:
            with self.path.open(encoding="utf-8", newline="") as fh:
                if self.format == "csv":
                    for row in csv.DictReader(fh):
                        rows[row[self.key]] = dict(row)
                else:
                    for line in fh:
                        if line.strip():
                            obj = json.loads(line)
                            rows[str(obj[self.key])] = obj
        except (OSError, KeyError, ValueError) as exc:
            raise DestinationUnavailable(f"cannot read {self.path}: {exc}") from None
        return rows

    def _write(self, rows: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                if self.format == "csv":
                    writer = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore")
                    writer.writeheader()
                    for key in sorted(rows):
                        writer.writerow({c: rows[key].get(c, "") for c in self.columns})
                else:
                    for key in sorted(rows):
                        fh.write(json.dumps(rows[key], sort_keys=False, ensure_ascii=False))
                        fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise DestinationUnavailable(f"cannot write {self.path}: {exc}") from None

    def _row(self, record: Record) -> dict[str, Any]:
        values = {self.key: record.pk, **record.fields}
        if self.format == "csv":
            return {c: as_text(values.get(c)) for c in self.columns}
        return {c: jsonable(values.get(c)) for c in self.columns}

    def _apply(self, records: Sequence[Record], drop: bool) -> list[RowOutcome]:
        with self._lock:
            if self._rows is None:
                self._rows = self._load()
            rows = dict(self._rows)
            for record in records:
                if drop:
                    rows.pop(record.pk, None)
                elif record.pk in rows and not self.updates:
                    continue  # insert-only: never overwrite what is there
                elif record.pk not in rows and not self.creates:
                    continue  # update-only: never create
                else:
                    rows[record.pk] = self._row(record)
            self._write(rows)
            before, self._rows = self._rows, rows
        out = []
        for record in records:
            if drop:
                out.append(RowOutcome.ok(record.pk, record.pk))
            elif record.pk not in rows:
                out.append(RowOutcome.skipped(record.pk, "not in the file (update-only)", synced=False))
            elif record.pk in before and not self.updates:
                out.append(RowOutcome.skipped(record.pk, "already in the file", synced=True))
            else:
                out.append(RowOutcome.ok(record.pk, record.pk))
        return out

    def upsert(self, records: Sequence[Record]) -> list[RowOutcome]:
        return self._apply(records, drop=False)

    def remove(self, records: Sequence[Record]) -> list[RowOutcome]:
        return self._apply(records, drop=True)

    def delete(self, records: Sequence[Record]) -> list[RowOutcome]:
        return self._apply(records, drop=True)
