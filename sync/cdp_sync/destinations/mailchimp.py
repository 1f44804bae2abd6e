"""Mailchimp Marketing API 3.0: audience (list) members.

* add/change: ``POST /3.0/lists/{list_id}`` (batch subscribe, at most 500
  members) with ``update_existing: true`` (insert-only: ``false``). Members are
  sent with ``status_if_new`` only, never ``status``: Mailchimp applies it to
  members it creates, so someone who unsubscribed (or was cleaned) is never
  re-subscribed by a sync. ``consent_field`` (a mapped boolean) makes new
  members without consent ``transactional``.
* The answer is 200 with ``new_members``, ``updated_members`` and
  ``errors[{email_address, error, error_code}]``; members are matched back by
  email. The row's destination id is the subscriber hash
  (md5 of the lower-cased email).
* removal (mirror): archive, ``DELETE /3.0/lists/{id}/members/{hash}``
  (404 = already gone). An email change archives the old member too.
* erasure: ``POST .../members/{hash}/actions/delete-permanent`` (default) or archive.
* Auth: HTTP Basic with any user name and the API key; the data centre comes
  from the key's suffix (``...-us6`` -> ``https://us6.api.mailchimp.com``).
* Limits: 10 concurrent connections (429, or a bare 403, beyond that); 120 s timeout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from cdp_sync.config import MailchimpDestination as MailchimpConfig
from cdp_sync.config import SyncConfig, read_secret
from cdp_sync.destinations.base import Destination, as_text
from cdp_sync.errors import BatchRejected, ConfigError, DestinationUnavailable
from cdp_sync.http import HttpClient, vendor_message
from cdp_sync.state import Record, RowOutcome

MEMBER_FIELDS = {"email_type", "language", "vip"}
EXISTS_CODES = {"ERROR_CONTACT_EXISTS"}


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def _bare_403(resp: httpx.Response) -> bool:
    """Mailchimp sometimes answers too many connections with a 403 without its
    problem+json body; a real permission error has one."""
    if resp.status_code != 403:
        return False
    try:
        body = resp.json()
    except ValueError:
        return True
    return not (isinstance(body, dict) and body.get("title"))


class MailchimpDestination(Destination):
    kind = "mailchimp"
    default_concurrency = 2

    def __init__(self, sync: SyncConfig, project_dir: Path) -> None:
        super().__init__(sync, project_dir)
        assert isinstance(sync.destination, MailchimpConfig)
        self.config: MailchimpConfig = sync.destination
        self.list_path = f"/3.0/lists/{self.config.list_id}"

    def open(self) -> None:
        key = read_secret(self.config.api_key_env, "Mailchimp API key")
        base = self.config.base_url
        if not base:
            if "-" not in key:
                raise ConfigError(
                    f"{self.config.api_key_env} has no data-centre suffix (like -us6); set base_url"
                )
            base = f"https://{key.rsplit('-', 1)[1]}.api.mailchimp.com"
        settings = self.sync.http
        self.http = HttpClient(
            "mailchimp",
            settings,
            limits={"default": settings.rate_limit},
            max_connections=self.config.max_connections,
            auth=("cdp-sync", key),
            retryable=_bare_403,
            base_url=base.rstrip("/"),
        )

    def _client(self) -> HttpClient:
        if self.http is None:
            self.open()
        assert self.http is not None
        return self.http

    def check(self) -> str:
        resp = self._client().request("GET", self.list_path, params={"fields": "id,name"})
        if resp.status_code == 404:
            raise ConfigError(f"mailchimp: list {self.config.list_id} not found")
        if not resp.is_success:
            raise DestinationUnavailable(
                f"mailchimp: GET list answered {resp.status_code}: {vendor_message(resp)}"
            )
        return f"API key accepted; list {self.config.list_id} exists"

    def _member(self, record: Record) -> dict[str, Any]:
        email = as_text(record.fields.get("email_address")).strip()
        status = self.config.status_if_new
        if self.config.consent_field:
            consent = record.fields.get(self.config.consent_field)
            if consent is not True:
                status = "transactional"
        member: dict[str, Any] = {"email_address": email, "status_if_new": status}
        merge: dict[str, Any] = {}
        for key, value in record.fields.items():
            if key in {"email_address", self.config.consent_field}:
                continue
            if key in MEMBER_FIELDS:
                member[key] = value
            else:
                merge[key] = as_text(value)
        if merge:
            member["merge_fields"] = merge
        return member

    def upsert(self, records: Sequence[Record]) -> list[RowOutcome]:
        members = [self._member(r) for r in records]
        body = {"members": members, "update_existing": self.updates}
        resp = self._client().request("POST", self.list_path, json=body)
        if 400 <= resp.status_code < 500:
            raise BatchRejected(
                f"mailchimp batch: {resp.status_code} {vendor_message(resp)}", resp.status_code
            )
        if not resp.is_success:
            raise DestinationUnavailable(f"mailchimp batch: unexpected {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            raise DestinationUnavailable("mailchimp batch: response is not JSON") from None
        by_email: dict[str, list[Record]] = {}
        for r, m in zip(records, members, strict=True):
            by_email.setdefault(m["email_address"].lower(), []).append(r)
        out: dict[str, RowOutcome] = {}
        for key in ("new_members", "updated_members"):
            for member in data.get(key) or []:
                email = str(member.get("email_address", "")).lower()
                for r in by_email.get(email, []):
                    out[r.pk] = RowOutcome.ok(r.pk, subscriber_hash(email))
        for err in data.get("errors") or []:
            email = str(err.get("email_address", "")).lower()
            code = str(err.get("error_code") or "")
            msg = str(err.get("error") or code or "rejected")
            for r in by_email.get(email, []):
                if code in EXISTS_CODES and not self.updates:
                    out[r.pk] = RowOutcome.skipped(
                        r.pk,
                        "already a list member (insert-only)",
                        synced=True,
                        destination_id=subscriber_hash(email),
                    )
                else:
                    out[r.pk] = RowOutcome.failed(r.pk, f"{code}: {msg}" if code else msg)
        # An email change moved the row to a new member: archive the old one.
        moved = [
            r
            for r in records
            if r.destination_id
            and r.pk in out
            and out[r.pk].destination_id
            and out[r.pk].destination_id != r.destination_id
        ]
        for r in moved:
            self._archive_hash(str(r.destination_id))
        return list(out.values())

    def _archive_hash(self, member_hash: str) -> httpx.Response:
        return self._client().request("DELETE", f"{self.list_path}/members/{member_hash}")

    def _member_hash(self, record: Record) -> str | None:
        if record.destination_id:
            return record.destination_id
        email = record.fields.get("email_address")
        return subscriber_hash(str(email)) if email else None

    def _per_member(self, records: Sequence[Record], permanent: bool) -> list[RowOutcome]:
        def one(r: Record) -> RowOutcome:
            member_hash = self._member_hash(r)
            if not member_hash:
                return RowOutcome.failed(r.pk, "subscriber hash unknown")
            if permanent:
                path = f"{self.list_path}/members/{member_hash}/actions/delete-permanent"
                resp = self._client().request("POST", path)
            else:
                resp = self._archive_hash(member_hash)
            if resp.status_code in (200, 204, 404):  # 404: not there (any more)
                return RowOutcome.ok(r.pk)
            if resp.status_code == 400 and "already" in vendor_message(resp).lower():
                return RowOutcome.ok(r.pk)
            return RowOutcome.failed(r.pk, f"{resp.status_code} {vendor_message(resp)}")

        return self._client().map(one, records)

    def remove(self, records: Sequence[Record]) -> list[RowOutcome]:
        return self._per_member(records, permanent=False)

    def delete(self, records: Sequence[Record]) -> list[RowOutcome]:
        return self._per_member(records, permanent=self.config.erasure == "delete_permanent")
