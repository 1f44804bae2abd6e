"""Fake Braze REST API: /users/track and /users/delete.

Enforces: ``Authorization: Bearer <key>`` (401), at most 75 attribute objects
(400 fatal), every object needs ``external_id`` and a valid ``email`` when one
is given (non-fatal ``errors[{type, input_array, index}]`` in a 201),
``_update_existing_only`` (no profile created), at most 50 ids per delete, and a
rate limit with ``X-RateLimit-Limit/Remaining/Reset`` headers (429 beyond it).
"""

from __future__ import annotations

import re
import time
from typing import Any

from .base import FakeAPI, Request, Response

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)


class FakeBraze(FakeAPI):
    name = "braze"

    def __init__(self, api_key: str, rate: tuple[int, float] = (3000, 3.0), **kw: Any):
        super().__init__(rate=rate, **kw)
        self.api_key = api_key
        self.users: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()

    def rate_headers(self) -> dict[str, str]:
        if not self.rate:
            return {}
        n, window = self.rate
        now = time.monotonic()
        used = len([t for t in self._starts if t > now - window])
        reset = time.time() + (window - (now - self._starts[0]) if self._starts else window)
        return {
            "X-RateLimit-Limit": str(n),
            "X-RateLimit-Remaining": str(max(0, n - used)),
            "X-RateLimit-Reset": f"{reset:.3f}",
        }

    def rate_limited_response(self) -> Response:
        return Response(429, {"message": "Rate limit exceeded"})

    def handle(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(401, {"message": "Invalid API key: check the key"})
        body = req.json or {}
        if req.path == "/users/track":
            return self._track(body)
        if req.path == "/users/delete":
            ids = body.get("external_ids") or []
            if not ids:
                return Response(400, {"message": "external_ids must be a non-empty array"})
            if len(ids) > 50:
                return Response(400, {"message": f"Too many external_ids: {len(ids)} > 50"})
            n = 0
            for ext in ids:
                if self.users.pop(ext, None) is not None:
                    n += 1
                self.deleted.add(ext)
            return Response(201, {"deleted": n, "message": "success"})
        return Response(404, {"message": "not found"})

    def _track(self, body: dict[str, Any]) -> Response:
        attrs = body.get("attributes") or []
        if not attrs and not body.get("events") and not body.get("purchases"):
            return Response(
                400,
                {
                    "message": "Valid data must be provided in the 'attributes', "
                    "'events', or 'purchases' fields."
                },
            )
        if len(attrs) > 75:
            return Response(400, {"message": f"Too many attributes objects: {len(attrs)} > 75"})
        errors = []
        processed = 0
        for i, obj in enumerate(attrs):
            ext = obj.get("external_id")
            if not ext:
                errors.append(
                    {
                        "type": "'external_id' or 'user_alias' or 'braze_id' is required",
                        "input_array": "attributes",
                        "index": i,
                    }
                )
                continue
            email = obj.get("email")
            if email is not None and not EMAIL.match(str(email)):
                errors.append(
                    {
                        "type": f"'{email}' is not a valid email",
                        "input_array": "attributes",
                        "index": i,
                    }
                )
                continue
            only_existing = obj.get("_update_existing_only", False)
            if ext not in self.users and only_existing:
                processed += 1
                continue
            user = self.users.setdefault(ext, {})
            for key, value in obj.items():
                if key in ("external_id", "_update_existing_only"):
                    continue
                if value is None:
                    user.pop(key, None)
                else:
                    user[key] = value
            processed += 1
        out: dict[str, Any] = {"message": "success", "attributes_processed": processed}
        if errors:
            out["errors"] = errors
        return Response(201, out)
