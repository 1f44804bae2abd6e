"""HubSpot CRM contacts (API v3), authenticated with a private-app token.

* add/change: ``POST /crm/v3/objects/contacts/batch/upsert`` with
  ``idProperty: email`` (at most 100 inputs). Rows whose HubSpot id is already
  known are updated by id (``batch/update``) so an email change edits the same
  contact instead of creating a second one; if that id no longer exists the row
  falls back to the upsert by email.
* insert-only uses ``batch/create`` (a 409 "already exists" is a skip);
  update-only uses ``batch/update`` (a missing contact is a skip).
* 200 = all done; 207 Multi-Status = ``results[]`` plus ``errors[]`` whose
  ``context.ids`` name the failed inputs; a 400/409 for the whole request is
  raised as BatchRejected so the engine isolates the bad rows.
* removal (mirror): ``archive`` (``batch/archive`` by id), ``property`` (set a
  property via ``batch/update``) or ``none``.
* erasure: ``POST /crm/v3/objects/contacts/gdpr-delete`` per contact (default)
  or ``archive``.
* Limits: 100 requests / 10 s (Free/Starter; set ``rate_limit`` for higher
  tiers); ``X-HubSpot-RateLimit-Remaining`` at 0 pauses for
  ``X-HubSpot-RateLimit-Interval-Milliseconds``; 429 honours ``Retry-After``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from cdp_sync.config import HubSpotDestination as HubSpotConfig
from cdp_sync.config import SyncConfig, read_secret
from cdp_sync.destinations.base import Destination, as_text
from cdp_sync.errors import BatchRejected, DestinationUnavailable
from cdp_sync.http import HttpClient, RateLimitHeaders, vendor_message
from cdp_sync.state import Op, Record, RowOutcome

CONTACTS = "/crm/v3/objects/contacts"
HEADERS = RateLimitHeaders(
    remaining=("X-HubSpot-RateLimit-Remaining",),
    window_ms="X-HubSpot-RateLimit-Interval-Milliseconds",
)
EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)", re.IGNORECASE)


def _context_ids(error: dict[str, Any]) -> list[str]:
    ctx = error.get("context") or {}
    out: list[str] = []
    if isinstance(ctx, dict):
        for key in ("ids", "id", "emails", "email", "objectIds"):
            value = ctx.get(key)
            if isinstance(value, list):
                out.extend(str(v) for v in value)
            elif value is not None:
                out.append(str(value))
    return out


class HubSpotDestination(Destination):
    kind = "hubspot"
    default_concurrency = 2

    def __init__(self, sync: SyncConfig, project_dir: Path) -> None:
        super().__init__(sync, project_dir)
        assert isinstance(sync.destination, HubSpotConfig)
        self.config: HubSpotConfig = sync.destination
        self.id_prop = self.config.id_property

    def open(self) -> None:
        token = read_secret(self.config.token_env, "HubSpot private app token")
        settings = self.sync.http
        self.http = HttpClient(
            "hubspot",
            settings,
            limits={"default": settings.rate_limit or self.config.rate_limit},
            headers_policy=HEADERS,
            max_connections=self.concurrency,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            base_url=self.config.base_url.rstrip("/"),
        )

    def _client(self) -> HttpClient:
        if self.http is None:
            self.open()
        assert self.http is not None
        return self.http

    def check(self) -> str:
        resp = self._client().request("GET", CONTACTS, params={"limit": 1})
        if not resp.is_success:
            raise DestinationUnavailable(
                f"hubspot: GET {CONTACTS} answered {resp.status_code}: {vendor_message(resp)}"
            )
        return f"token accepted by {httpx.URL(self.config.base_url).host} (contacts readable)"

    # ---- helpers -------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        resp = self._client().request("POST", f"{CONTACTS}/{path}", json=body)
        if resp.status_code in (200, 201, 204, 207):
            return resp
        if 400 <= resp.status_code < 500:
            raise BatchRejected(
                f"hubspot {path}: {resp.status_code} {vendor_message(resp)}", resp.status_code
            )
        raise DestinationUnavailable(f"hubspot {path}: unexpected {resp.status_code}")

    def _properties(self, record: Record) -> dict[str, str]:
        return {k: as_text(v) for k, v in record.fields.items()}

    def _email(self, record: Record) -> str:
        return as_text(record.fields.get(self.id_prop)).strip().lower()

    @staticmethod
    def _body(resp: httpx.Response) -> dict[str, Any]:
        try:
            body = resp.json() if resp.content else {}
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _match(
        self,
        records: Sequence[Record],
        resp: httpx.Response,
        key: str,
    ) -> tuple[dict[str, RowOutcome], dict[str, tuple[str, str]]]:
        """Map results/errors back to records by ``key`` ('email' or 'id').

        Returns outcomes found, and errors by pk as (category, message).
        """
        body = self._body(resp)
        index: dict[str, list[Record]] = {}
        for r in records:
            k = self._email(r) if key == "email" else str(r.destination_id)
            index.setdefault(k, []).append(r)
        found: dict[str, RowOutcome] = {}
        for res in body.get("results") or []:
            props = res.get("properties") or {}
            k = str(props.get(self.id_prop, "")).strip().lower() if key == "email" else str(res.get("id"))
            for r in index.get(k, []):
                found[r.pk] = RowOutcome.ok(r.pk, str(res.get("id")) if res.get("id") else None)
        errors: dict[str, tuple[str, str]] = {}
        unattributed: list[str] = []
        for err in body.get("errors") or []:
            ids = _context_ids(err)
            msg = str(err.get("message") or err.get("category") or "rejected")
            cat = str(err.get("category") or "")
            hit = False
            for ident in ids:
                for r in index.get(ident.strip().lower() if key == "email" else ident, []):
                    errors[r.pk] = (cat, msg)
                    hit = True
            if not hit:
                unattributed.append(msg)
        if unattributed:
            for r in records:
                if r.pk not in found and r.pk not in errors:
                    errors[r.pk] = ("", "; ".join(unattributed))
        return found, errors

    # ---- operations ----------------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> list[RowOutcome]:
        outcomes: dict[str, RowOutcome] = {}
        by_id = [r for r in records if r.destination_id and r.op == Op.CHANGE and self.updates]
        by_id_pks = {r.pk for r in by_id}
        rest = [r for r in records if r.pk not in by_id_pks]
        if by_id:
            inputs = [{"id": r.destination_id, "properties": self._properties(r)} for r in by_id]
            resp = self._post("batch/update", {"inputs": inputs})
            found, errors = self._match(by_id, resp, "id")
            outcomes.update(found)
            for r in by_id:
                if r.pk in errors:
                    cat, msg = errors[r.pk]
                    if cat == "OBJECT_NOT_FOUND" or "not found" in msg.lower():
                        rest.append(r)  # contact gone in HubSpot: fall back to the email
                    else:
                        outcomes[r.pk] = RowOutcome.failed(r.pk, msg)
        if rest and self.creates and self.updates:
            outcomes.update(self._upsert_by_email(rest))
        elif rest and self.creates:
            outcomes.update(self._create(rest))
        elif rest:
            outcomes.update(self._update_by_email(rest))
        return list(outcomes.values())

    def _upsert_by_email(self, records: Sequence[Record]) -> dict[str, RowOutcome]:
        inputs = [
            {"idProperty": self.id_prop, "id": self._email(r), "properties": self._properties(r)}
            for r in records
        ]
        resp = self._post("batch/upsert", {"inputs": inputs})
        found, errors = self._match(records, resp, "email")
        for pk, (_, msg) in errors.items():
            found.setdefault(pk, RowOutcome.failed(pk, msg))
        return found

    def _update_by_email(self, records: Sequence[Record]) -> dict[str, RowOutcome]:
        inputs = [
            {"idProperty": self.id_prop, "id": self._email(r), "properties": self._properties(r)}
            for r in records
        ]
        resp = self._post("batch/update", {"inputs": inputs})
        found, errors = self._match(records, resp, "email")
        for r in records:
            if r.pk in errors and r.pk not in found:
                cat, msg = errors[r.pk]
                if cat == "OBJECT_NOT_FOUND" or "not found" in msg.lower():
                    found[r.pk] = RowOutcome.skipped(
                        r.pk, "no such contact in HubSpot (update-only)", synced=False
                    )
                else:
                    found[r.pk] = RowOutcome.failed(r.pk, msg)
        return found

    def _create(self, records: Sequence[Record]) -> dict[str, RowOutcome]:
        try:
            inputs = [{"properties": self._properties(r)} for r in records]
            resp = self._post("batch/create", {"inputs": inputs})
        except BatchRejected as exc:
            if exc.status_code == 409 and len(records) == 1:
                m = EXISTING_ID.search(exc.message)
                r = records[0]
                return {
                    r.pk: RowOutcome.skipped(
                        r.pk,
                        "contact already exists in HubSpot (insert-only)",
                        synced=True,
                        destination_id=m.group(1) if m else None,
                    )
                }
            raise
        found, errors = self._match(records, resp, "email")
        for pk, (_, msg) in errors.items():
            found.setdefault(pk, RowOutcome.failed(pk, msg))
        return found

    def _archive(self, records: Sequence[Record]) -> list[RowOutcome]:
        known = [r for r in records if r.destination_id]
        out = [
            RowOutcome.failed(r.pk, "HubSpot contact id unknown; cannot archive")
            for r in records
            if not r.destination_id
        ]
        if known:
            self._post("batch/archive", {"inputs": [{"id": r.destination_id} for r in known]})
            out.extend(RowOutcome.ok(r.pk) for r in known)
        return out

    def remove(self, records: Sequence[Record]) -> list[RowOutcome]:
        if self.config.removal == "none":
            return [RowOutcome.ok(r.pk) for r in records]
        if self.config.removal == "archive":
            return self._archive(records)
        prop = self.config.removal_property or ""
        known = [r for r in records if r.destination_id]
        out = [
            RowOutcome.failed(r.pk, "HubSpot contact id unknown; cannot update")
            for r in records
            if not r.destination_id
        ]
        if known:
            body = {
                "inputs": [
                    {"id": r.destination_id, "properties": {prop: self.config.removal_value}} for r in known
                ]
            }
            resp = self._post("batch/update", body)
            found, errors = self._match(known, resp, "id")
            for r in known:
                if r.pk in errors:
                    cat, msg = errors[r.pk]
                    gone = cat == "OBJECT_NOT_FOUND"
                    out.append(RowOutcome.ok(r.pk) if gone else RowOutcome.failed(r.pk, msg))
                else:
                    out.append(found.get(r.pk) or RowOutcome.ok(r.pk))
        return out

    def delete(self, records: Sequence[Record]) -> list[RowOutcome]:
        if self.config.erasure == "archive":
            return self._archive(records)

        def one(r: Record) -> RowOutcome:
            if not r.destination_id:
                return RowOutcome.failed(r.pk, "HubSpot contact id unknown; cannot GDPR-delete")
            resp = self._client().request(
                "POST", f"{CONTACTS}/gdpr-delete", json={"objectId": r.destination_id}
            )
            if resp.status_code in (200, 204, 404):  # 404: already deleted
                return RowOutcome.ok(r.pk)
            return RowOutcome.failed(r.pk, f"gdpr-delete: {resp.status_code} {vendor_message(resp)}")

        return self._client().map(one, records)
