"""Braze REST API: user profiles keyed by ``external_id`` (the sync's primary key).

* add/change: ``POST /users/track`` with up to 75 attribute objects
  ``{"external_id": pk, <mapped attributes>}``; update-only sends
  ``"_update_existing_only": true`` so Braze never creates profiles. Braze has
  no create-only call: insert-only sends rows this sync never sent, which
  updates a profile created by someone else.
* ``201 {"message": "success", "errors": [{"type", "input_array", "index"}]}``
  reports per-object (non-fatal) errors by index; a fatal 4xx
  (``{"message": <why>}``) refuses the whole request (BatchRejected).
* removal (mirror): ``attribute`` sets ``audience_attribute`` to false,
  ``delete`` deletes the profile, ``none`` does nothing.
  While in the audience, ``audience_attribute`` (if set) is true.
* erasure: ``POST /users/delete`` with up to 50 ``external_ids``.
* Auth: ``Authorization: Bearer <REST API key>``.
* Limits: /users/track 3,000 requests / 3 s; /users/delete 20,000 / minute
  (shared with alias/identify/merge). 429 responses carry ``X-RateLimit-Limit``,
  ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from cdp_sync.config import BrazeDestination as BrazeConfig
from cdp_sync.config import SyncConfig, read_secret
from cdp_sync.destinations.base import Destination, jsonable
from cdp_sync.errors import BatchRejected, DestinationUnavailable
from cdp_sync.http import HttpClient, RateLimitHeaders, vendor_message
from cdp_sync.state import Op, Record, RowOutcome

HEADERS = RateLimitHeaders(
    remaining=("X-RateLimit-Remaining",),
    reset="X-RateLimit-Reset",
    reset_unit="epoch",
    retry_after=("Retry-After", "X-RateLimit-Retry-After"),
)
DELETE_BATCH = 50
EMPTY_TRACK_MESSAGE = "valid data must be provided"


class BrazeDestination(Destination):
    kind = "braze"
    default_concurrency = 4

    def __init__(self, sync: SyncConfig, project_dir: Path) -> None:
        super().__init__(sync, project_dir)
        assert isinstance(sync.destination, BrazeConfig)
        self.config: BrazeConfig = sync.destination

    def open(self) -> None:
        key = read_secret(self.config.api_key_env, "Braze REST API key")
        settings = self.sync.http
        self.http = HttpClient(
            "braze",
            settings,
            limits={
                "track": settings.rate_limit or self.config.rate_limit,
                "delete": self.config.delete_rate_limit,
            },
            headers_policy=HEADERS,
            max_connections=max(self.concurrency, 1),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            base_url=self.config.base_url.rstrip("/"),
        )

    def _client(self) -> HttpClient:
        if self.http is None:
            self.open()
        assert self.http is not None
        return self.http

    def max_batch_size(self, op: Op) -> int:
        size = self.sync.effective_batch_size
        if op == Op.DELETE or (op == Op.REMOVE and self.config.removal == "delete"):
            return min(size, DELETE_BATCH)
        return size

    def check(self) -> str:
        # An empty /users/track changes nothing: a valid key gets 400 "Valid data must be
        # provided...", an invalid one 401.
        resp = self._client().request("POST", "/users/track", bucket="track", json={})
        msg = vendor_message(resp).lower()
        if resp.is_success or (resp.status_code == 400 and EMPTY_TRACK_MESSAGE in msg):
            return f"API key accepted by {httpx.URL(self.config.base_url).host}"
        raise DestinationUnavailable(f"braze: check answered {resp.status_code}: {msg}")

    def _track(self, records: Sequence[Record], attrs: list[dict[str, Any]]) -> list[RowOutcome]:
        resp = self._client().request("POST", "/users/track", bucket="track", json={"attributes": attrs})
        if 400 <= resp.status_code < 500:
            raise BatchRejected(
                f"braze /users/track: {resp.status_code} {vendor_message(resp)}", resp.status_code
            )
        if not resp.is_success:
            raise DestinationUnavailable(f"braze /users/track: unexpected {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            body = {}
        failed: dict[int, str] = {}
        for err in (body.get("errors") if isinstance(body, dict) else None) or []:
            if not isinstance(err, dict) or err.get("input_array", "attributes") != "attributes":
                continue
            try:
                failed[int(err.get("index"))] = str(err.get("type") or "invalid attributes")
            except (TypeError, ValueError):
                continue
        return [
            RowOutcome.failed(r.pk, failed[i]) if i in failed else RowOutcome.ok(r.pk, r.pk)
            for i, r in enumerate(records)
        ]

    def upsert(self, records: Sequence[Record]) -> list[RowOutcome]:
        attrs = []
        for r in records:
            obj: dict[str, Any] = {"external_id": r.pk}
            obj.update({k: jsonable(v) for k, v in r.fields.items()})
            if self.config.audience_attribute:
                obj[self.config.audience_attribute] = True
            if not self.creates:
                obj["_update_existing_only"] = True
            attrs.append(obj)
        return self._track(records, attrs)

    def _delete_users(self, records: Sequence[Record]) -> list[RowOutcome]:
        out: list[RowOutcome] = []
        for start in range(0, len(records), DELETE_BATCH):
            part = records[start : start + DELETE_BATCH]
            resp = self._client().request(
                "POST",
                "/users/delete",
                bucket="delete",
                json={"external_ids": [r.pk for r in part]},
            )
            if 400 <= resp.status_code < 500:
                raise BatchRejected(
                    f"braze /users/delete: {resp.status_code} {vendor_message(resp)}",
                    resp.status_code,
                )
            if not resp.is_success:
                raise DestinationUnavailable(f"braze /users/delete: unexpected {resp.status_code}")
            # Unknown external ids are not errors: deleting what is not there is done.
            out.extend(RowOutcome.ok(r.pk) for r in part)
        return out

    def remove(self, records: Sequence[Record]) -> list[RowOutcome]:
        if self.config.removal == "none":
            return [RowOutcome.ok(r.pk) for r in records]
        if self.config.removal == "delete":
            return self._delete_users(records)
        attr = self.config.audience_attribute or ""
        attrs = [{"external_id": r.pk, attr: False, "_update_existing_only": True} for r in records]
        return self._track(records, attrs)

    def delete(self, records: Sequence[Record]) -> list[RowOutcome]:
        return self._delete_users(records)
