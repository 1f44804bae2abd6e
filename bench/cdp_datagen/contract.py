"""The raw landing contract: table and column names, in order. Every column lands as TEXT
except `_loaded_at` (TIMESTAMP, UTC), which every table also has."""

from __future__ import annotations

TABLES: dict[str, tuple[str, ...]] = {
    "crm_contacts": (
        "contact_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "company",
        "street",
        "city",
        "postal_code",
        "country",
        "date_of_birth",
        "created_at",
        "updated_at",
        "is_deleted",
    ),
    "shop_customers": (
        "customer_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "address1",
        "city",
        "zip",
        "country_code",
        "accepts_email_marketing",
        "created_at",
        "updated_at",
    ),
    "shop_orders": (
        "order_id",
        "customer_id",
        "email",
        "total_price",
        "currency",
        "status",
        "line_items",
        "created_at",
        "updated_at",
    ),
    "app_users": (
        "user_id",
        "email",
        "full_name",
        "phone",
        "plan",
        "signup_at",
        "last_login_at",
        "deleted_at",
    ),
    "web_events": (
        "message_id",
        "type",
        "event",
        "anonymous_id",
        "user_id",
        "traits",
        "properties",
        "context",
        "timestamp",
        "received_at",
    ),
    "newsletter_signups": (
        "signup_id",
        "email",
        "first_name",
        "source",
        "opted_in",
        "signed_up_at",
        "ip_address",
    ),
    "support_tickets": (
        "ticket_id",
        "requester_email",
        "requester_name",
        "requester_phone",
        "subject",
        "status",
        "created_at",
    ),
    "consent_events": (
        "consent_id",
        "email",
        "user_id",
        "purpose",
        "granted",
        "recorded_at",
        "source",
    ),
    "deletion_requests": ("request_id", "email", "user_id", "phone", "requested_at", "status"),
}
LOADED_AT = "_loaded_at"
GROUND_TRUTH = "demo_ground_truth"
GROUND_TRUTH_COLUMNS: tuple[str, ...] = ("record_key", "person_id")
KEY_PREFIX: dict[str, str] = {
    "crm_contacts": "C-",
    "shop_customers": "S-",
    "shop_orders": "O-",
    "app_users": "U-",
    "newsletter_signups": "N-",
    "support_tickets": "T-",
    "consent_events": "K-",
    "deletion_requests": "D-",
}


def columns(table: str) -> tuple[str, ...]:
    """All landed columns of a raw table, `_loaded_at` last."""
    if table == GROUND_TRUTH:
        return GROUND_TRUTH_COLUMNS
    return (*TABLES[table], LOADED_AT)


def ddl(table: str, schema: str) -> str:
    cols = [f'"{c}" VARCHAR' for c in columns(table) if c != LOADED_AT]
    if table != GROUND_TRUTH:
        cols.append(f'"{LOADED_AT}" TIMESTAMP')
    return f'CREATE OR REPLACE TABLE {schema}."{table}" ({", ".join(cols)})'
