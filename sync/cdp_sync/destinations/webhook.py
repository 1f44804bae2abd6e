"""Generic webhook: JSON batches POSTed to a URL, signed with HMAC-SHA256.

Request (``Content-Type: application/json``)::

    {"sync": "...", "operation": "upsert|insert|update|remove|delete",
     "records": [{"id": "<primary key>", "op": "add|change|remove|delete",
                  "fields": {...}}]}          # fields only for upserts

Headers: ``X-CDP-Timestamp`` (unix seconds), ``X-CDP-Signature:
sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`` and
``Idempotency-Key`` (stable for the same rows and versions, so a receiver can
drop a batch resent after a crash). Receivers should reject signatures older
than a few minutes.

Response: any 2xx accepts the batch. A JSON body may report rows it refused:
``{"results": [{"id": "...", "status": "error", "error": "why"}]}``; rows not
listed as errors are accepted. A 4xx (other than 401/403/408/429) refuses the
whole batch, which the engine splits to find the bad rows.

``cdp-sync check`` sends a signed ``{"operation": "ping", "records": []}``
(disable with ``ping_on_check: false``): receivers should answer it with a 2xx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from cdp_sync.config import Mode, SyncConfig, read_secret
from cdp_sync.config import WebhookDestination as WebhookConfig
from cdp_sync.destinations.base import Destination, jsonable
from cdp_sync.errors import BatchRejected, DestinationUnavailable
from cdp_sync.http import HttpClient, vendor_message
from cdp_sync.state import Op, Record, RowOutcome

SIGNATURE_HEADER = "X-CDP-Signature"
TIMESTAMP_HEADER = "X-CDP-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, tolerance: float = 300) -> bool:
    """Receiver side (used by the tests' fake): constant-time compare plus freshness."""
    try:
        fresh = abs(time.time() - float(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookDestination(Destination):
    kind = "webhook"
    default_concurrency = 2

    def __init__(self, sync: SyncConfig, project_dir: Path) -> None:
        super().__init__(sync, project_dir)
        assert isinstance(sync.destination, WebhookConfig)
        self.config: WebhookConfig = sync.destination
        self._secret = ""

    def open(self) -> None:
        self._secret = read_secret(self.config.secret_env, "webhook signing secret")
        settings = self.sync.http
        self.http = HttpClient(
            "webhook",
            settings,
            limits={"default": settings.rate_limit or self.config.rate_limit},
            max_connections=self.concurrency,
            headers=dict(self.config.headers),
        )

    def check(self) -> str:
        if self.http is None:
            self.open()
        if not self.config.ping_on_check:
            return f"secret {self.config.secret_env} set; ping disabled"
        self._post("ping", [])
        return f"signed ping accepted by {httpx.URL(self.config.url).host}"

    def _operation(self, op: Op) -> str:
        if op in (Op.REMOVE, Op.DELETE):
            return op.value
        return {Mode.INSERT_ONLY: "insert", Mode.UPDATE_ONLY: "update"}.get(self.sync.mode, "upsert")

    def _post(self, operation: str, items: list[dict[str, Any]]) -> httpx.Response:
        assert self.http is not None
        body = {"sync": self.sync.name, "operation": operation, "records": items}
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        key_src = json.dumps([self.sync.name, operation, items], sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, raw),
            "Idempotency-Key": hashlib.sha256(key_src).hexdigest()[:40],
        }
        resp = self.http.request("POST", self.config.url, content=raw, headers=headers)
        if resp.is_success:
            return resp
        if 400 <= resp.status_code < 500:
            raise BatchRejected(
                f"webhook refused the batch ({resp.status_code}): {vendor_message(resp)}",
                resp.status_code,
            )
        raise DestinationUnavailable(f"webhook answered {resp.status_code}")

    def _send(self, op: Op, records: Sequence[Record]) -> list[RowOutcome]:
        items: list[dict[str, Any]] = []
        for r in records:
            item: dict[str, Any] = {"id": r.pk, "op": r.op.value}
            if op in (Op.ADD, Op.CHANGE):
                item["fields"] = {k: jsonable(v) for k, v in r.fields.items()}
            items.append(item)
        resp = self._post(self._operation(op), items)
        errors: dict[str, str] = {}
        try:
            body = resp.json() if resp.content else {}
        except ValueError:
            body = {}
        if isinstance(body, dict) and isinstance(body.get("results"), list):
            for res in body["results"]:
                if isinstance(res, dict) and str(res.get("status", "ok")).lower() not in {
                    "ok",
                    "success",
                    "accepted",
                }:
                    errors[str(res.get("id"))] = str(res.get("error") or "rejected by receiver")
        return [
            RowOutcome.failed(r.pk, errors[r.pk]) if r.pk in errors else RowOutcome.ok(r.pk) for r in records
        ]

    def upsert(self, records: Sequence[Record]) -> list[RowOutcome]:
        return self._send(records[0].op if records else Op.ADD, records)

    def remove(self, records: Sequence[Record]) -> list[RowOutcome]:
        return self._send(Op.REMOVE, records)

    def delete(self, records: Sequence[Record]) -> list[RowOutcome]:
        return self._send(Op.DELETE, records)
