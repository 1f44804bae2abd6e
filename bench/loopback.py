"""The loopback destination: the test suite's fake webhook receiver on 127.0.0.1.

It runs in threads of the harness process (so its memory is not charged to the
``cdp-sync`` process being measured) and verifies every HMAC signature like the
tests do. Unlike the test fake it keeps only the ids it holds, not every request
body, so a million-row push does not fill the harness's memory.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _importable() -> None:
    for sub in ("sync", ""):
        path = str(PROJECT_DIR / sub) if sub else str(PROJECT_DIR)
        if path not in sys.path:
            sys.path.insert(0, path)


_importable()

from tests.sync.fakes.base import Request, Response  # noqa: E402
from tests.sync.fakes.webhook import FakeWebhook  # noqa: E402


class LoopbackWebhook(FakeWebhook):
    """The fake webhook, remembering ids only: ``held`` per sync name."""

    def __init__(self, secret: str | None = None) -> None:
        super().__init__(secret=secret or secrets.token_hex(16))
        self.held: dict[str, set[str]] = {}
        self.rows_received = 0

    def handle(self, req: Request) -> Response:
        resp = super().handle(req)
        body: dict[str, Any] = req.json or {}
        held = self.held.setdefault(str(body.get("sync")), set())
        for rec in body.get("records", []):
            self.rows_received += 1
            if rec.get("op") in ("remove", "delete"):
                held.discard(rec["id"])
            else:
                held.add(rec["id"])
        # forget bodies: the bench checks ids only
        self.records.clear()
        self.batches.clear()
        self.requests.clear()
        return resp
