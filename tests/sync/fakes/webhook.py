"""Fake webhook receiver: verifies the HMAC signature (401 otherwise), keeps the
records it accepted, and can refuse rows or whole batches on demand."""

from __future__ import annotations

from typing import Any

from cdp_sync.destinations.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

from .base import FakeAPI, Request, Response


class FakeWebhook(FakeAPI):
    name = "webhook"

    def __init__(self, secret: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.secret = secret
        self.records: dict[str, dict[str, Any]] = {}
        self.batches: list[dict[str, Any]] = []
        self.reject_rows: set[str] = set()  # ids answered with a per-row error
        self.poison: set[str] = set()  # ids that make the whole batch 400
        self.bad_signatures = 0

    def handle(self, req: Request) -> Response:
        ts = req.headers.get(TIMESTAMP_HEADER.lower(), "")
        sig = req.headers.get(SIGNATURE_HEADER.lower(), "")
        if not verify(self.secret, ts, req.body, sig):
            self.bad_signatures += 1
            return Response(401, {"message": "invalid signature"})
        body = req.json
        if body.get("operation") == "ping":
            return Response(200, {"ok": True})
        records = body["records"]
        ids = [r["id"] for r in records]
        if any(i in self.poison for i in ids):
            return Response(400, {"message": "batch contains an unprocessable record"})
        self.batches.append(body)
        results = []
        for rec in records:
            if rec["id"] in self.reject_rows:
                results.append({"id": rec["id"], "status": "error", "error": "refused by receiver"})
                continue
            if rec["op"] in ("remove", "delete"):
                self.records.pop(rec["id"], None)
            elif body["operation"] == "insert" and rec["id"] in self.records:
                pass
            else:
                self.records[rec["id"]] = rec["fields"]
            results.append({"id": rec["id"], "status": "ok"})
        return Response(200, {"results": results})

    def sent_ids(self) -> list[str]:
        return [r["id"] for b in self.batches for r in b["records"]]
