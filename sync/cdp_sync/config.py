"""The syncs YAML (``sync/syncs.yml``) and run settings, as pydantic models.

A sync says what to read (``source``, ``primary_key``, ``mapping`` of
destination field -> source column), where to send it (``destination``), how
(``mode``, batch size, HTTP settings) and when a run counts as failed
(``failure_threshold``). Top-level ``defaults`` apply to every sync.
Tokens are never in this file: destinations name the environment variable
that holds theirs (``token_env`` / ``api_key_env`` / ``secret_env``).
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cdp_sync.errors import ConfigError
from cdp_sync.masking import REDACTOR

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
IDENT_RE = re.compile(rf"^{IDENT}$")
RELATION_RE = re.compile(rf"^{IDENT}(\.{IDENT}){{0,2}}$")
SYNC_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_TOMBSTONE = "marts.erased_customers"
DEFAULT_CONFIG = Path("sync") / "syncs.yml"


class Mode(StrEnum):
    UPSERT = "upsert"
    INSERT_ONLY = "insert-only"
    UPDATE_ONLY = "update-only"
    MIRROR = "mirror"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RateLimit(_Model):
    """At most ``requests`` requests in any window of ``per_seconds`` seconds."""

    requests: int = Field(gt=0)
    per_seconds: float = Field(gt=0)


class HttpSettings(_Model):
    timeout: float = Field(30.0, gt=0, description="read/write timeout, seconds")
    connect_timeout: float = Field(10.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff_base: float = Field(0.5, ge=0, description="first backoff, doubled per retry")
    backoff_max: float = Field(30.0, ge=0)
    max_retry_after: float = Field(300.0, ge=0, description="a Retry-After longer than this fails the batch")
    concurrency: int | None = Field(None, gt=0, description="batches in flight")
    rate_limit: RateLimit | None = Field(None, description="override the vendor default")


class FileDestination(_Model):
    type: Literal["file"]
    path: str = Field(description="relative to the project dir, e.g. sync_output/x.csv")
    format: Literal["csv", "jsonl"] | None = None
    batch_size: int = Field(5000, gt=0)

    @property
    def resolved_format(self) -> str:
        if self.format:
            return self.format
        return "csv" if self.path.lower().endswith(".csv") else "jsonl"


class WebhookDestination(_Model):
    type: Literal["webhook"]
    url: str
    secret_env: str = "CDP_WEBHOOK_SECRET"
    batch_size: int = Field(100, gt=0, le=10_000)
    rate_limit: RateLimit = RateLimit(requests=10, per_seconds=1)
    headers: dict[str, str] = Field(default_factory=dict)
    ping_on_check: bool = True


class HubSpotDestination(_Model):
    type: Literal["hubspot"]
    base_url: str = "https://api.hubapi.com"
    token_env: str = "CDP_HUBSPOT_TOKEN"
    id_property: str = "email"
    removal: Literal["archive", "property", "none"] = "archive"
    removal_property: str | None = None
    removal_value: str = "false"
    erasure: Literal["gdpr_delete", "archive"] = "gdpr_delete"
    batch_size: int = Field(100, gt=0, le=100)
    # Free/Starter private apps: 100 requests per 10 s (Pro/Enterprise: 190).
    rate_limit: RateLimit = RateLimit(requests=100, per_seconds=10)

    @model_validator(mode="after")
    def _removal_property(self) -> HubSpotDestination:
        if self.removal == "property" and not self.removal_property:
            raise ValueError("removal: property needs removal_property")
        return self


class MailchimpDestination(_Model):
    type: Literal["mailchimp"]
    list_id: str
    api_key_env: str = "CDP_MAILCHIMP_API_KEY"
    base_url: str | None = Field(None, description="default: https://<dc>.api.mailchimp.com")
    status_if_new: Literal["subscribed", "pending", "transactional"] = "pending"
    consent_field: str | None = Field(
        None, description="mapped boolean field; false -> new members are 'transactional'"
    )
    erasure: Literal["delete_permanent", "archive"] = "delete_permanent"
    batch_size: int = Field(500, gt=0, le=500)
    max_connections: int = Field(10, gt=0, le=10)


class BrazeDestination(_Model):
    type: Literal["braze"]
    base_url: str = Field(description="your instance's REST endpoint")
    api_key_env: str = "CDP_BRAZE_API_KEY"
    audience_attribute: str | None = Field(
        None, description="boolean custom attribute set true while in the audience"
    )
    removal: Literal["attribute", "delete", "none"] = "attribute"
    batch_size: int = Field(75, gt=0, le=75)
    rate_limit: RateLimit = RateLimit(requests=3000, per_seconds=3)
    delete_rate_limit: RateLimit = RateLimit(requests=20000, per_seconds=60)


Destination = Annotated[
    FileDestination | WebhookDestination | HubSpotDestination | MailchimpDestination | BrazeDestination,
    Field(discriminator="type"),
]


class SyncConfig(_Model):
    name: str
    description: str = ""
    enabled: bool = True
    source: str = Field(description="schema.relation of the audience model")
    primary_key: str = "customer_id"
    mode: Mode = Mode.UPSERT
    mapping: dict[str, str] = Field(description="destination field -> source column")
    destination: Destination
    batch_size: int | None = Field(None, gt=0)
    max_attempts: int = Field(3, ge=1, description="tries for a rejected row version")
    failure_threshold: float = Field(0.05, ge=0, le=1)
    tombstone: str | None = DEFAULT_TOMBSTONE
    tombstone_key: str = "customer_id"
    pii_fields: list[str] = Field(default_factory=list)
    http: HttpSettings = HttpSettings()

    @field_validator("mapping", mode="before")
    @classmethod
    def _mapping_shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):  # [email, first_name] -> identity mapping
            out: dict[str, str] = {}
            for item in value:
                if isinstance(item, str):
                    out[item] = item
                elif isinstance(item, dict):
                    out.update(item)
                else:
                    raise ValueError(f"mapping entries must be names or {{field: column}}: {item!r}")
            return out
        if isinstance(value, dict):
            return {k: (k if v is None else v) for k, v in value.items()}
        return value

    @field_validator("tombstone", mode="before")
    @classmethod
    def _tombstone_off(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"", "none", "off", "false"}:
            return None
        return value

    @model_validator(mode="after")
    def _check(self) -> SyncConfig:
        if not SYNC_NAME_RE.match(self.name):
            raise ValueError(
                f"sync name {self.name!r} must be lowercase letters, digits and _ (it names the state table)"
            )
        for rel in [self.source, self.tombstone or "x"]:
            if not RELATION_RE.match(rel):
                raise ValueError(f"{rel!r} is not a relation name like schema.model")
        for col in [self.primary_key, self.tombstone_key, *self.mapping.values()]:
            if not IDENT_RE.match(col):
                raise ValueError(f"{col!r} is not a plain column name")
        if not self.mapping:
            raise ValueError("mapping is empty")
        dest = self.destination
        if isinstance(dest, HubSpotDestination) and dest.id_property not in self.mapping:
            raise ValueError(f"hubspot needs the id property {dest.id_property!r} in mapping")
        if isinstance(dest, MailchimpDestination):
            if "email_address" not in self.mapping:
                raise ValueError("mailchimp needs 'email_address' in mapping")
            if self.mode == Mode.UPDATE_ONLY:
                raise ValueError(
                    "mailchimp does not support update-only: its batch endpoint creates "
                    "missing members (use upsert, insert-only or mirror)"
                )
            if dest.consent_field and dest.consent_field not in self.mapping:
                raise ValueError(f"consent_field {dest.consent_field!r} is not in mapping")
        if (
            isinstance(dest, BrazeDestination)
            and self.mode == Mode.MIRROR
            and dest.removal == "attribute"
            and not dest.audience_attribute
        ):
            raise ValueError("braze mirror with removal: attribute needs audience_attribute")
        return self

    @property
    def effective_batch_size(self) -> int:
        size = self.destination.batch_size
        return min(size, self.batch_size) if self.batch_size else size


class SyncsFile(_Model):
    version: Literal[1] = 1
    defaults: dict[str, Any] = Field(default_factory=dict)
    state_schema: str = "cdp_sync"
    syncs: list[SyncConfig]

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults") or {}
        syncs = data.get("syncs") or []
        merged = []
        for sync in syncs:
            if not isinstance(sync, dict):
                merged.append(sync)
                continue
            item = {k: v for k, v in defaults.items() if k != "http"}
            item.update(sync)
            if "http" in defaults or "http" in sync:
                item["http"] = {**(defaults.get("http") or {}), **(sync.get("http") or {})}
            merged.append(item)
        return {**data, "syncs": merged}

    @model_validator(mode="after")
    def _unique(self) -> SyncsFile:
        names = [s.name for s in self.syncs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate sync names: {', '.join(dupes)}")
        if not IDENT_RE.match(self.state_schema):
            raise ValueError("state_schema must be a plain identifier")
        return self

    def get(self, name: str) -> SyncConfig:
        for sync in self.syncs:
            if sync.name == name:
                return sync
        known = ", ".join(s.name for s in self.syncs) or "none"
        raise ConfigError(f"unknown sync {name!r} (declared: {known})")


def load_syncs(path: Path) -> SyncsFile:
    if not path.is_file():
        raise ConfigError(f"syncs file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    try:
        return SyncsFile.model_validate(data or {})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {loc}: {err['msg']}")
        raise ConfigError(f"{path}: invalid syncs file:\n" + "\n".join(lines)) from None


# --- environment -----------------------------------------------------------------

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$")


def load_env_file(path: Path, override: bool = False) -> list[str]:
    """Load KEY=VALUE lines (a minimal ``.env``); returns the names set.

    Existing environment variables win unless ``override``. Quotes are stripped;
    ``#`` starts a comment outside quotes.
    """
    names: list[str] = []
    if not path.is_file():
        return names
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(raw)
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip()
        if value[:1] in {"'", '"'} and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if override or key not in os.environ:
            os.environ[key] = value
            names.append(key)
    return names


def read_secret(env_name: str, purpose: str) -> str:
    """A token from the environment; registered with the redactor so it is never printed."""
    value = os.environ.get(env_name, "")
    if not value:
        raise ConfigError(f"environment variable {env_name} is not set ({purpose})")
    REDACTOR.add_secret(value)
    return value


def find_project_dir(start: Path | None = None) -> Path:
    """The dbt project dir: $DBT_PROJECT_DIR, else the nearest parent with dbt_project.yml."""
    env = os.environ.get("DBT_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for cand in [here, *here.parents]:
        if (cand / "dbt_project.yml").is_file():
            return cand
    return here
