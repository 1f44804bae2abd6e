"""Masking of personal data and secrets in everything cdp-sync prints or stores.

Three layers, all applied by :meth:`Redactor.scrub`:

1. secrets (API tokens, webhook secrets, warehouse passwords) registered when
   they are read from the environment are replaced by ``***``;
2. values known to be personal data (the email, phone and names of the rows in
   the batch being sent) are replaced by their masked form, so a vendor message
   like ``"Jane" is not valid`` cannot leak a name;
3. anything that looks like an email address or a phone number is masked.

The CLI installs :class:`RedactingFilter` on the root logger, and every error
message, per-row error stored in the warehouse, and plan sample goes through
the process-wide :data:`REDACTOR`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# E.164 (+ and 7-15 digits, optional separators) and common national formats.
PHONE_RE = re.compile(
    r"(?<![\w])\+\d[\d\s().\-]{6,18}\d(?![\w])"
    r"|(?<![\w.\-])\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}(?![\w])"
)

DEFAULT_PII_PATTERN = re.compile(
    r"(e_?mail|phone|mobile|sms|first_?name|last_?name|full_?name|^name$|fname|lname|"
    r"address|street|city|zip|postal|birth|dob|ip_?addr)",
    re.IGNORECASE,
)


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    host, _, tld = domain.rpartition(".")
    if not host:
        host, tld = tld, ""
    masked_local = (local[:1] or "*") + "***"
    masked_host = (host[:1] or "*") + "***"
    return f"{masked_local}@{masked_host}" + (f".{tld}" if tld else "")


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    prefix = "+" if value.strip().startswith("+") else ""
    if len(digits) <= 2:
        return prefix + "*" * len(digits)
    return prefix + "*" * (len(digits) - 2) + digits[-2:]


def mask_text(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    return value[:1] + "***"


def mask_value(field: str, value: Any) -> Any:
    """Masked form of ``value`` for a field known (or guessed) to hold personal data."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if EMAIL_RE.fullmatch(text.strip()):
        return mask_email(text.strip())
    if "phone" in field.lower() or "mobile" in field.lower() or "sms" in field.lower():
        return mask_phone(text)
    return mask_text(text)


def is_pii_field(name: str, extra: Iterable[str] = ()) -> bool:
    return name in set(extra) or bool(DEFAULT_PII_PATTERN.search(name))


class Redactor:
    """Process-wide scrubber for secrets and personal data. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._known: dict[str, str] = {}
        self._refs: dict[str, int] = {}

    def add_secret(self, value: str | None) -> None:
        if value and len(value) >= 4:
            with self._lock:
                self._secrets.add(value)

    def add_known(self, values: Iterable[tuple[str, Any]]) -> list[str]:
        """Register personal values (field, value) so they are masked verbatim
        wherever they show up; returns the keys to pass to :meth:`forget`."""
        keys: list[str] = []
        with self._lock:
            for field, value in values:
                if isinstance(value, str) and len(value.strip()) >= 2:
                    key = value.strip()
                    self._known[key] = str(mask_value(field, value))
                    self._refs[key] = self._refs.get(key, 0) + 1
                    keys.append(key)
        return keys

    def forget(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                left = self._refs.get(key, 0) - 1
                if left <= 0:
                    self._refs.pop(key, None)
                    self._known.pop(key, None)
                else:
                    self._refs[key] = left

    def scrub(self, text: object, extra_known: Mapping[str, Any] | None = None) -> str:
        out = str(text)
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
            known = dict(self._known)
        if extra_known:
            for field, value in extra_known.items():
                if isinstance(value, str) and len(value.strip()) >= 2:
                    known[value.strip()] = str(mask_value(field, value))
        for secret in secrets:
            out = out.replace(secret, "***")
        # Longest first so "Jane Doe" is replaced before "Jane".
        for raw in sorted(known, key=len, reverse=True):
            if raw in out:
                out = re.sub(re.escape(raw), known[raw], out, flags=re.IGNORECASE)
        out = EMAIL_RE.sub(lambda m: mask_email(m.group(0)), out)
        out = PHONE_RE.sub(lambda m: mask_phone(m.group(0)), out)
        return out


REDACTOR = Redactor()


def mask_record(
    fields: Mapping[str, Any], pii_fields: Iterable[str] = (), redactor: Redactor = REDACTOR
) -> dict[str, Any]:
    """A copy of ``fields`` fit to print: PII fields masked, other strings scrubbed."""
    extra = list(pii_fields)
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if is_pii_field(key, extra):
            out[key] = mask_value(key, value)
        elif isinstance(value, str):
            out[key] = redactor.scrub(value)
        else:
            out[key] = value
    return out


class RedactingFilter(logging.Filter):
    """Logging filter that scrubs the formatted message of every record."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string should still be logged, scrubbed
            message = str(record.msg)
        record.msg = self.redactor.scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redactor.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
