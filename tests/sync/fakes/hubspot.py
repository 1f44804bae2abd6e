"""Fake HubSpot CRM v3 contacts API.

Enforces: ``Authorization: Bearer <token>`` (401 otherwise), at most 100 inputs
per batch (400 VALIDATION_ERROR), a valid email on every upsert input (the whole
batch is refused with 400, as HubSpot does for invalid property values),
``idProperty`` must be ``email``, 207 Multi-Status with ``errors[].context.ids``
for rows in ``reject_emails``, 409 on ``batch/create`` of an existing email,
OBJECT_NOT_FOUND on updates of unknown ids, and the 10-second rolling rate limit
with ``X-HubSpot-RateLimit-*`` headers (429 ``RATE_LIMIT`` body beyond it).
"""

from __future__ import annotations

import re
import time
from typing import Any

from .base import FakeAPI, Request, Response

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
BASE = "/crm/v3/objects/contacts"


class FakeHubSpot(FakeAPI):
    name = "hubspot"

    def __init__(self, token: str, rate: tuple[int, float] = (100, 10.0), **kw: Any) -> None:
        super().__init__(rate=rate, **kw)
        self.token = token
        self.contacts: dict[str, dict[str, Any]] = {}  # id -> {"properties", "archived"}
        self.gdpr_deleted: set[str] = set()
        self.reject_emails: set[str] = set()
        self.reject_template = "Property values were not valid for {email}"
        self.hide_remaining = False
        self._next = 1000

    # ---- helpers ------------------------------------------------------------------------

    def by_email(self, email: str) -> str | None:
        for cid, c in self.contacts.items():
            if not c["archived"] and c["properties"].get("email", "").lower() == email.lower():
                return cid
        return None

    def active(self) -> dict[str, dict[str, str]]:
        """email -> properties of contacts that are not archived."""
        return {
            c["properties"]["email"]: c["properties"] for c in self.contacts.values() if not c["archived"]
        }

    def rate_headers(self) -> dict[str, str]:
        if not self.rate:
            return {}
        n, window = self.rate
        now = time.monotonic()
        used = len([t for t in self._starts if t > now - window])
        headers = {
            "X-HubSpot-RateLimit-Max": str(n),
            "X-HubSpot-RateLimit-Remaining": str(max(0, n - used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window * 1000)),
        }
        if self.hide_remaining:  # as when other apps share the portal's limit
            del headers["X-HubSpot-RateLimit-Remaining"]
        return headers

    def rate_limited_response(self) -> Response:
        return Response(
            429,
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": "fake",
                "policyName": "TEN_SECONDLY_ROLLING",
            },
        )

    def _error(self, status: int, message: str, category: str) -> Response:
        return Response(
            status,
            {"status": "error", "message": message, "category": category, "correlationId": "x"},
        )

    def _result(self, cid: str, new: bool = False) -> dict[str, Any]:
        c = self.contacts[cid]
        return {
            "id": cid,
            "properties": dict(c["properties"]),
            "archived": c["archived"],
            "new": new,
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
        }

    def _new(self, props: dict[str, str]) -> str:
        self._next += 1
        cid = str(self._next)
        self.contacts[cid] = {"properties": dict(props), "archived": False}
        return cid

    def _batch(self, req: Request) -> list[dict[str, Any]] | Response:
        body = req.json or {}
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return self._error(400, "Invalid input JSON: inputs is required", "VALIDATION_ERROR")
        if len(inputs) > 100:
            return self._error(400, f"Batch input limit is 100 (got {len(inputs)})", "VALIDATION_ERROR")
        return inputs

    def _check_props(self, inputs: list[dict[str, Any]]) -> Response | None:
        for inp in inputs:
            props = inp.get("properties") or {}
            for key, value in props.items():
                if not isinstance(value, str):
                    return self._error(400, f"Property {key} must be a string", "VALIDATION_ERROR")
            email = props.get("email")
            if email is not None and not EMAIL.match(email):
                return self._error(
                    400,
                    f'Property values were not valid: [{{"isValid":false,"message":"Email '
                    f'address {email} is invalid","error":"INVALID_EMAIL","name":"email"}}]',
                    "VALIDATION_ERROR",
                )
        return None

    def _multi(self, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> Response:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-01-01T00:00:00Z",
            "completedAt": "2026-01-01T00:00:01Z",
        }
        if errors:
            body["errors"] = errors
            body["numErrors"] = len(errors)
            return Response(207, body)
        return Response(200, body)

    # ---- endpoints --------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        presented = req.headers.get("authorization", "")
        if presented != f"Bearer {self.token}":
            # (echoes what it got, as some APIs do: the client must not print it)
            return self._error(
                401,
                f"Authentication credentials not found or invalid ({presented[7:]!r}). "
                "This API supports OAuth 2.0 authentication.",
                "INVALID_AUTHENTICATION",
            )
        if req.method == "GET" and req.path == BASE:
            return Response(200, {"results": [], "paging": None})
        if req.method != "POST" or not req.path.startswith(BASE):
            return self._error(404, "not found", "OBJECT_NOT_FOUND")
        op = req.path[len(BASE) + 1 :]
        if op == "gdpr-delete":
            cid = str((req.json or {}).get("objectId"))
            if cid not in self.contacts:
                return self._error(404, "resource not found", "OBJECT_NOT_FOUND")
            del self.contacts[cid]
            self.gdpr_deleted.add(cid)
            return Response(204)
        inputs = self._batch(req)
        if isinstance(inputs, Response):
            return inputs
        if op == "batch/archive":
            for inp in inputs:
                if str(inp.get("id")) in self.contacts:
                    self.contacts[str(inp["id"])]["archived"] = True
            return Response(204)
        bad = self._check_props(inputs)
        if bad is not None:
            return bad
        if op == "batch/upsert":
            return self._upsert(inputs)
        if op == "batch/create":
            return self._create(inputs)
        if op == "batch/update":
            return self._update(inputs)
        return self._error(404, f"unknown endpoint {op}", "OBJECT_NOT_FOUND")

    def _upsert(self, inputs: list[dict[str, Any]]) -> Response:
        ids = [str(i.get("id", "")).lower() for i in inputs]
        if any(i.get("idProperty") != "email" for i in inputs):
            return self._error(400, "idProperty must be a unique property", "VALIDATION_ERROR")
        if len(set(ids)) != len(ids):
            return self._error(400, "Duplicate IDs found in batch input", "VALIDATION_ERROR")
        results, errors = [], []
        for inp, email in zip(inputs, ids, strict=True):
            if email in self.reject_emails:
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": self.reject_template.format(**{**inp["properties"], "email": email}),
                        "context": {"ids": [email]},
                    }
                )
                continue
            props = {**inp["properties"], "email": email}
            cid = self.by_email(email)
            if cid is None:
                cid = self._new(props)
                results.append(self._result(cid, new=True))
            else:
                self.contacts[cid]["properties"].update(props)
                results.append(self._result(cid))
        return self._multi(results, errors)

    def _create(self, inputs: list[dict[str, Any]]) -> Response:
        for inp in inputs:
            existing = self.by_email(inp["properties"].get("email", ""))
            if existing:
                return self._error(409, f"Contact already exists. Existing ID: {existing}", "CONFLICT")
        results = [self._result(self._new(inp["properties"]), new=True) for inp in inputs]
        return Response(201, {"status": "COMPLETE", "results": results})

    def _update(self, inputs: list[dict[str, Any]]) -> Response:
        results, errors = [], []
        for inp in inputs:
            key = str(inp.get("id"))
            if inp.get("idProperty") == "email":
                cid = self.by_email(key)
            else:
                cid = key if key in self.contacts and not self.contacts[key]["archived"] else None
            if cid is None:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                        "context": {"ids": [key]},
                    }
                )
                continue
            self.contacts[cid]["properties"].update(inp["properties"])
            results.append(self._result(cid))
        return self._multi(results, errors)
