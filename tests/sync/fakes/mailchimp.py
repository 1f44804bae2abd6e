"""Fake Mailchimp Marketing API 3.0 (audience members).

Enforces: HTTP Basic auth with the API key (401 problem+json otherwise), at
most 500 members per batch (400), per-member ``errors[]`` in a 200 answer for
invalid emails / existing members when ``update_existing`` is false / attempts
to set ``status: subscribed`` on someone who unsubscribed (compliance state),
``status_if_new`` applied only to members it creates, archive (DELETE) and
delete-permanent, and at most ``max_connections`` concurrent requests (429).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from .base import FakeAPI, Request, Response

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)


def member_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


class FakeMailchimp(FakeAPI):
    name = "mailchimp"

    def __init__(self, api_key: str, list_id: str, max_connections: int = 10, **kw: Any):
        super().__init__(**kw)
        self.api_key = api_key
        self.list_id = list_id
        self.max_connections = max_connections
        self.members: dict[str, dict[str, Any]] = {}  # hash -> member
        self.deleted: set[str] = set()
        self.resubscribe_attempts = 0

    def problem(self, status: int, title: str, detail: str) -> Response:
        return Response(
            status,
            {
                "type": "https://mailchimp.com/developer/",
                "title": title,
                "status": status,
                "detail": detail,
                "instance": "fake",
            },
            {"Content-Type": "application/problem+json"},
        )

    def active(self) -> dict[str, dict[str, Any]]:
        return {m["email_address"]: m for m in self.members.values() if not m["archived"]}

    def set_status(self, email: str, status: str) -> None:
        self.members[member_hash(email)]["status"] = status

    def handle(self, req: Request) -> Response:
        if self.in_flight > self.max_connections:
            return self.problem(
                429,
                "Too Many Requests",
                "You have exceeded the limit of 10 simultaneous connections.",
            )
        auth = req.headers.get("authorization", "")
        ok = False
        if auth.startswith("Basic "):
            user_key = base64.b64decode(auth[6:]).decode()
            ok = user_key.split(":", 1)[-1] == self.api_key
        if not ok:
            return self.problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        base = f"/3.0/lists/{self.list_id}"
        if not req.path.startswith(base):
            return self.problem(404, "Resource Not Found", "The requested resource could not be found.")
        rest = req.path[len(base) :]
        if req.method == "GET" and rest == "":
            return Response(200, {"id": self.list_id, "name": "Fake audience"})
        if req.method == "POST" and rest == "":
            return self._batch(req.json or {})
        m = re.fullmatch(r"/members/([0-9a-f]{32})(/actions/delete-permanent)?", rest)
        if not m:
            return self.problem(404, "Resource Not Found", "The requested resource could not be found.")
        h = m.group(1)
        member = self.members.get(h)
        if req.method == "DELETE" and not m.group(2):
            if member is None or member["archived"]:
                return self.problem(404, "Resource Not Found", "The requested resource could not be found.")
            member["archived"] = True
            return Response(204)
        if req.method == "POST" and m.group(2):
            if member is None:
                return self.problem(404, "Resource Not Found", "The requested resource could not be found.")
            del self.members[h]
            self.deleted.add(h)
            return Response(204)
        return self.problem(405, "Method Not Allowed", "")

    def _batch(self, body: dict[str, Any]) -> Response:
        members = body.get("members")
        if not isinstance(members, list):
            return self.problem(400, "Invalid Resource", "members is required")
        if len(members) > 500:
            return self.problem(
                400,
                "Invalid Resource",
                f"Members array exceeds maximum of 500 items ({len(members)})",
            )
        update = bool(body.get("update_existing", False))
        new, updated, errors = [], [], []
        for mem in members:
            email = str(mem.get("email_address", ""))
            if not EMAIL.match(email):
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} looks fake or invalid, please enter a real email address.",
                        "error_code": "ERROR_GENERIC",
                    }
                )
                continue
            h = member_hash(email)
            existing = self.members.get(h)
            if existing is not None and not existing["archived"] and not update:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is already a list member. Use PUT to insert or "
                        "update list members.",
                        "error_code": "ERROR_CONTACT_EXISTS",
                    }
                )
                continue
            if existing is not None:
                wanted = mem.get("status")
                if wanted == "subscribed" and existing["status"] in ("unsubscribed", "cleaned"):
                    self.resubscribe_attempts += 1
                    errors.append(
                        {
                            "email_address": email,
                            "error": f"{email} is in a compliance state due to unsubscribe, "
                            "bounce, or compliance review and cannot be subscribed.",
                            "error_code": "ERROR_GENERIC",
                        }
                    )
                    continue
                if wanted and update:
                    existing["status"] = wanted
                existing["merge_fields"].update(mem.get("merge_fields") or {})
                existing["archived"] = False
                updated.append(self._public(existing))
            else:
                status = mem.get("status") or mem.get("status_if_new")
                if status not in (
                    "subscribed",
                    "unsubscribed",
                    "cleaned",
                    "pending",
                    "transactional",
                ):
                    errors.append(
                        {
                            "email_address": email,
                            "error": "status or status_if_new is required",
                            "error_code": "ERROR_GENERIC",
                        }
                    )
                    continue
                self.members[h] = {
                    "id": h,
                    "email_address": email,
                    "status": status,
                    "merge_fields": dict(mem.get("merge_fields") or {}),
                    "archived": False,
                }
                new.append(self._public(self.members[h]))
        return Response(
            200,
            {
                "new_members": new,
                "updated_members": updated,
                "errors": errors,
                "total_created": len(new),
                "total_updated": len(updated),
                "error_count": len(errors),
            },
        )

    @staticmethod
    def _public(m: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in m.items() if k != "archived"}
