"""The incremental staging models and facts give the full refresh's result: a copy of the built
warehouse gets new raw rows (new events on known devices and users, a redelivery of an event
already staged, a new version of an order with fewer line items, a deletion request for someone
with events, a CRM contact that merges two customers so that one's old events and app user move
to the other, an event that links a known device to another customer so that the device's
earlier anonymous events change owner, new records, versions, redeliveries and a late-arriving old
version of the versioned sources, an order version with a malformed line-items array), is built
incrementally, and every incremental table is
compared row for row with a `--full-refresh` build of the same raw data. The changes that touch old
rows without new rows on them are checked to have happened, so a too-small recomputed set fails.

A second copy checks the other side: an incremental run recomputes and writes only what can have
changed (a marker written into every fact row survives on the rows that were not rewritten)."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.dbt_helpers import RUN_AT, built_copy, execute, query, run_dbt

# the incremental staging models and the source table each stages
INCREMENTAL_STAGING = {
    "staging.stg_web__events": "web_events",
    "staging.stg_shop__orders": "shop_orders",
    "staging.stg_shop__order_lines": "shop_orders",
    "staging.stg_crm__contacts": "crm_contacts",
    "staging.stg_shop__customers": "shop_customers",
    "staging.stg_app__users": "app_users",
    "staging.stg_consent__events": "consent_events",
    "staging.stg_helpdesk__tickets": "support_tickets",
    "staging.stg_newsletter__signups": "newsletter_signups",
}
STAGING_KEYS = {
    "web_events": "message_id",
    "shop_orders": "order_id",
    "crm_contacts": "contact_id",
    "shop_customers": "shop_customer_id",
    "app_users": "app_user_id",
    "consent_events": "consent_id",
    "support_tickets": "ticket_id",
    "newsletter_signups": "signup_id",
}

INCREMENTAL_TABLES = (
    *INCREMENTAL_STAGING,
    "marts.fct_events",
    "marts.fct_orders",
    "staging.stg_audit__quarantine",
    "staging.stg_privacy__identifier_index",
    "staging.stg_audit__raw_row_ledger",
    "marts.dim_customers",
    "marts.dim_customer_identifiers",
    # consent: statements rebuilt in full, the two marts incremental per customer
    "intermediate.int_consent__statements",
    "marts.customer_consent",
    "marts.customer_consent_flags",
    # tables built on them, as a check of what consumers see
    "marts.fct_order_lines",
    "audiences.aud_cart_abandoners",
    # full rebuilds that read the incremental quarantine and staging models
    "staging.stg_audit__row_accounting",
    "staging.stg_privacy__erasure_scope",
)

# shortly before the pinned run time, so inside the cart audience's window
CART_ADDED_AT = (datetime.fromisoformat(RUN_AT) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _land_new_raw_rows(database: Path) -> dict[str, str]:
    """Append realistic new data, loaded after everything already there. Returns the ids the
    checks look for (no personal data)."""
    erased_user = query(
        database,
        """select min(app_user_id) from marts.fct_events
           where customer_id is not null and app_user_id is not null""",
    )[0][0]
    order_id = query(
        database,
        """select min(order_id) from staging.stg_shop__order_lines
           group by order_id having count(*) > 1 order by 1 limit 1""",
    )[0][0]
    # an order whose new version has no readable line items left: its old lines must go
    emptied_order = query(
        database,
        f"""select max(order_id) from staging.stg_shop__order_lines where order_id <> '{order_id}'""",
    )[0][0]
    # a quarantined row (with a key) of a person who asks to be erased only now
    quarantined = query(
        database,
        """select consent_id, app_user_id from staging.base_consent__events
           where _quarantine_reason is not null and consent_id is not null and app_user_id is not null
             and consent_id in (select source_record_id from staging.stg_audit__quarantine
                                where source_table = 'consent_events')
           order by consent_id limit 1""",
    )
    assert quarantined, "no quarantined consent event with a user in the built warehouse"
    quarantined_consent, quarantined_user = quarantined[0]
    # a person erased by the build already: the user a standing request names
    already_erased_user = query(
        database,
        """select min(app_user_id) from staging.stg_privacy__deletion_requests
           where app_user_id is not null
             and coalesce(request_status, 'pending') not in ('rejected', 'cancelled', 'withdrawn')
             and app_user_id in (select app_user_id from staging.base_web__events)""",
    )[0][0]
    assert already_erased_user, "no erased web events in the built warehouse"
    merge = _pick_merge(database, exclude_user=erased_user)
    device = _pick_device(database, exclude_customers=[merge["absorbed"], merge["survivor"], merge["erased"]])
    # records of the account sources that get a new version or a redelivery (the largest ids: the
    # picks above take the smallest)
    accounts = query(
        database,
        f"""select
               (select max(contact_id) from staging.stg_crm__contacts),
               (select max(contact_id) from staging.stg_crm__contacts
                where contact_id < (select max(contact_id) from staging.stg_crm__contacts)),
               (select max(shop_customer_id) from staging.stg_shop__customers),
               (select max(shop_customer_id) from staging.stg_shop__customers
                where shop_customer_id < (select max(shop_customer_id) from staging.stg_shop__customers)),
               (select max(app_user_id) from staging.stg_app__users),
               (select max(app_user_id) from staging.stg_app__users
                where app_user_id < (select max(app_user_id) from staging.stg_app__users)),
               (select max(app_user_id) from staging.stg_app__users where app_user_id <> '{erased_user}'
                  and app_user_id < (select max(app_user_id) from staging.stg_app__users where app_user_id < (
                      select max(app_user_id) from staging.stg_app__users)))""",
    )[0]
    (
        changed_contact,
        redelivered_contact,
        changed_customer,
        late_customer,
        changed_user,
        redelivered_user,
        consent_user,
    ) = accounts
    execute(
        database,
        f"""
        create temporary table watermark as
            select max(_loaded_at) + interval 1 hour as loaded_at from raw.web_events;
        -- new events of known devices and users (and so of known customers)
        insert into raw.web_events
            select * replace (message_id || '-incr' as message_id, (select loaded_at from watermark) as _loaded_at)
            from raw.web_events
            where message_id is not null
            order by message_id
            limit 40;
        -- Segment redelivers an event already staged: the first delivery stays
        insert into raw.web_events
            select * replace ((select loaded_at from watermark) as _loaded_at)
            from raw.web_events
            where message_id in (select message_id from staging.stg_web__events order by message_id limit 3);
        -- a new version of an order: refunded, one line left
        insert into raw.shop_orders
            select * replace (
                'refunded' as status,
                '[{{"sku":"INCR-1","category":"test","quantity":1,"price":1.5}}]' as line_items,
                '2026-10-31T23:00:00Z' as updated_at,
                (select loaded_at from watermark) as _loaded_at
            )
            from raw.shop_orders
            where order_id = '{order_id}'
            order by _loaded_at desc
            limit 1;
        -- a new version of another order with a malformed line-items array: no lines left
        insert into raw.shop_orders
            select * replace (
                '[{{"sku":' as line_items,
                '2026-10-31T23:00:00Z' as updated_at,
                (select loaded_at from watermark) as _loaded_at
            )
            from raw.shop_orders
            where order_id = '{emptied_order}'
            order by _loaded_at desc
            limit 1;
        -- a deletion request for someone with events
        insert into raw.deletion_requests (request_id, user_id, requested_at, status, _loaded_at)
            values ('D-INCR-0001', '{erased_user}', '2026-11-01T08:00:00Z', 'pending',
                    (select loaded_at from watermark));
        -- a deletion request that covers a row quarantined before it arrived
        insert into raw.deletion_requests (request_id, user_id, requested_at, status, _loaded_at)
            values ('D-INCR-0002', '{quarantined_user}', '2026-11-01T09:00:00Z', 'pending',
                    (select loaded_at from watermark));
        -- new rows of a person erased before: one usable, one without a key (quarantined, matched
        -- by the hash of its raw row)
        insert into raw.web_events (message_id, type, event, anonymous_id, user_id, properties, context,
                                    timestamp, received_at, _loaded_at)
            values ('INCR-ERASED-1', 'track', 'Product Viewed', null, '{already_erased_user}', '{{}}', '{{}}',
                    '2026-10-31T10:00:00Z', '2026-10-31T10:00:00Z', (select loaded_at from watermark)),
                   (null, 'track', 'Product Viewed', null, '{already_erased_user}', '{{}}', '{{}}',
                    '2026-10-31T10:00:01Z', '2026-10-31T10:00:01Z', (select loaded_at from watermark));
        -- a new row that cannot be used: no timestamp to order its versions
        insert into raw.crm_contacts (contact_id, email, _loaded_at)
            values ('C-INCR-QUARANTINED', 'incr.quarantined@example.com', (select loaded_at from watermark));
        -- a CRM contact with the email of one customer and the phone of another merges them: the
        -- absorbed customer's old events (its app user's, its identify calls) move, with no new event
        insert into raw.crm_contacts (contact_id, email, phone, created_at, updated_at, is_deleted, _loaded_at)
            values ('C-INCR-MERGE', '{merge["email"]}', '{merge["phone"]}', '2026-10-30T10:00:00Z',
                    '2026-10-30T10:00:00Z', 'false', (select loaded_at from watermark));
        -- a track event of another customer's app user on a known device, at the time of the device's
        -- earliest anonymous event: that event (and no new one) changes owner
        insert into raw.web_events (message_id, type, event, anonymous_id, user_id, properties, context,
                                    timestamp, received_at, _loaded_at)
            values ('INCR-DEVICE-LINK', 'track', 'Product Viewed', '{device["anonymous_id"]}',
                    '{device["app_user_id"]}', '{{}}', '{{}}', '{device["at"]}', '{device["at"]}',
                    (select loaded_at from watermark));
        -- CRM: a new contact, a new version that changes a field (delivered twice: a redelivery of the
        -- same row), and a redelivery of a contact's current row (its _loaded_at moves on)
        insert into raw.crm_contacts (contact_id, email, first_name, created_at, updated_at, is_deleted, _loaded_at)
            values ('C-INCR-NEW', 'incr.new.contact@example.com', 'incr', '2026-10-31T11:00:00Z',
                    '2026-10-31T11:00:00Z', 'false', (select loaded_at from watermark));
        create temporary table changed_contact as
            select * replace ('Incr Company' as company, '2026-10-31T12:00:00Z' as updated_at,
                              (select loaded_at from watermark) as _loaded_at)
            from raw.crm_contacts
            where contact_id = '{changed_contact}'
            order by _loaded_at desc
            limit 1;
        insert into raw.crm_contacts select * from changed_contact;
        insert into raw.crm_contacts select * from changed_contact;
        insert into raw.crm_contacts
            select raw_rows.* replace ((select loaded_at from watermark) as _loaded_at)
            from raw.crm_contacts as raw_rows
            inner join staging.stg_crm__contacts as staged
                on staged.contact_id = trim(raw_rows.contact_id) and staged._loaded_at = raw_rows._loaded_at
            where staged.contact_id = '{redelivered_contact}'
            order by raw_rows.updated_at desc
            limit 1;
        -- shop: a new customer and a new version that changes the city
        insert into raw.shop_customers (customer_id, email, first_name, created_at, updated_at, _loaded_at)
            values ('SC-INCR-NEW', 'incr.new.customer@example.com', 'incr', '2026-10-31T11:00:00Z',
                    '2026-10-31T11:00:00Z', (select loaded_at from watermark));
        insert into raw.shop_customers
            select * replace ('incrville' as city, '2026-10-31T12:00:00Z' as updated_at,
                              (select loaded_at from watermark) as _loaded_at)
            from raw.shop_customers
            where customer_id = '{changed_customer}'
            order by _loaded_at desc
            limit 1;
        -- a late arrival: an old version of another customer, landed now, stays superseded
        insert into raw.shop_customers
            select * replace ('lateville' as city, '2001-01-01T00:00:00Z' as updated_at,
                              (select loaded_at from watermark) as _loaded_at)
            from raw.shop_customers
            where customer_id = '{late_customer}'
            order by _loaded_at desc
            limit 1;
        -- app: a new plan for one user, and another user's current row delivered twice
        insert into raw.app_users
            select * replace ('incr-plan' as plan, (select loaded_at from watermark) as _loaded_at)
            from raw.app_users
            where user_id = '{changed_user}'
            order by _loaded_at desc
            limit 1;
        create temporary table redelivered_user as
            select raw_rows.* replace ((select loaded_at from watermark) as _loaded_at)
            from raw.app_users as raw_rows
            inner join staging.stg_app__users as staged
                on staged.app_user_id = trim(raw_rows.user_id) and staged._loaded_at = raw_rows._loaded_at
            where staged.app_user_id = '{redelivered_user}'
            order by raw_rows.last_login_at desc
            limit 1;
        insert into raw.app_users select * from redelivered_user;
        insert into raw.app_users select * from redelivered_user;
        -- a consent statement, a ticket and a sign-up
        insert into raw.consent_events (consent_id, user_id, purpose, granted, recorded_at, source, _loaded_at)
            values ('CONS-INCR-1', '{consent_user}', 'email_marketing', 'false', '2026-10-31T13:00:00Z', 'web',
                    (select loaded_at from watermark));
        insert into raw.support_tickets (ticket_id, requester_email, requester_name, subject, status, created_at,
                                         _loaded_at)
            values ('T-INCR-1', 'incr.ticket@example.com', 'incr requester', 'incr subject', 'open',
                    '2026-10-31T14:00:00Z', (select loaded_at from watermark));
        insert into raw.newsletter_signups (signup_id, email, first_name, source, opted_in, signed_up_at, _loaded_at)
            values ('NL-INCR-1', 'incr.signup@example.com', 'incr', 'footer', 'true', '2026-10-31T15:00:00Z',
                    (select loaded_at from watermark));
        """,
    )
    cart_customer, cart_user = _pick_cart_customer(
        database,
        exclude=[
            erased_user,
            changed_user,
            redelivered_user,
            consent_user,
            *merge.values(),
            *device.values(),
        ],
    )
    execute(
        database,
        f"""
        -- a known customer adds to cart just before the run: a cart abandoner
        insert into raw.web_events (message_id, type, event, anonymous_id, user_id, properties, context,
                                    timestamp, received_at, _loaded_at)
            values ('INCR-CART-ADD', 'track', 'Product Added', null, '{cart_user}',
                    '{{"sku":"INCR-CART","category":"test","price":42.0,"quantity":1}}', '{{}}',
                    '{CART_ADDED_AT}', '{CART_ADDED_AT}',
                    (select max(_loaded_at) from raw.web_events));
        """,
    )
    return {
        "cart_customer": cart_customer,
        "changed_contact": changed_contact,
        "redelivered_contact": redelivered_contact,
        "changed_customer": changed_customer,
        "late_customer": late_customer,
        "changed_user": changed_user,
        "redelivered_user": redelivered_user,
        "erased_user": erased_user,
        "order_id": order_id,
        "emptied_order": emptied_order,
        "quarantined_consent": quarantined_consent,
        "already_erased_user": already_erased_user,
        **merge,
        **device,
    }


def _pick_cart_customer(database: Path, exclude: list[str]) -> tuple[str, str]:
    """A customer the cart audience would take but for a recent cart: an app user, an email, email
    consent and analytics consent, no order or Order Completed after the cart add, not in it yet,
    and not touched by the other changes."""
    excluded = "', '".join(str(value) for value in exclude)
    rows = query(
        database,
        f"""
        select profiles.customer_id, min(records.source_record_id)
        from marts.customer_profiles as profiles
        inner join marts.dim_customer_records as records
            on records.customer_id = profiles.customer_id and records.source_table = 'app_users'
        where profiles.email is not null and profiles.email_marketing_consent and profiles.analytics_consent
          and profiles.customer_id not in (select customer_id from audiences.aud_cart_abandoners)
          and profiles.customer_id not in ('{excluded}')
          and profiles.customer_id not in (
              select customer_id from marts.fct_orders where customer_id is not null
                and ordered_at >= '{CART_ADDED_AT}'
              union all
              select customer_id from marts.fct_events where customer_id is not null
                and event_name = 'Order Completed' and event_at >= '{CART_ADDED_AT}')
        group by profiles.customer_id
        having min(records.source_record_id) not in ('{excluded}')
        order by profiles.customer_id
        limit 1
        """,
    )
    assert rows, "no customer for the cart audience in the built warehouse"
    return rows[0]


def _pick_merge(database: Path, exclude_user: str) -> dict[str, str]:
    """Two customers a bridging record merges, the absorbed one (larger id: the older or smaller id
    survives) with an app user whose events are attributed through it, the survivor without an app
    user or shop account (so the merge stays within the per-customer caps)."""
    rows = query(
        database,
        f"""
        with owned as (
            select customer_id, identifier_type, identifier_value
            from marts.dim_customer_identifiers
            where is_linkable
              and (identifier_type, identifier_value) in (
                  select identifier_type, identifier_value from marts.dim_customer_identifiers
                  group by all having count(distinct customer_id) = 1)
        ),
        small as (
            select customer_id from marts.dim_customer_identifiers group by customer_id
            having count(*) filter (where identifier_type in ('email', 'phone')) <= 3
        ),
        absorbed as (
            select events.customer_id, min(events.app_user_id) as app_user_id, min(owned.identifier_value) as email
            from marts.fct_events as events
            inner join owned on owned.customer_id = events.customer_id and owned.identifier_type = 'email'
            where events.attribution_method = 'user_id' and events.app_user_id <> '{exclude_user}'
              and events.customer_id in (select customer_id from small)
            group by events.customer_id
        ),
        survivor as (
            select owned.customer_id, min(owned.identifier_value) as phone
            from owned
            where owned.identifier_type = 'phone'
              and owned.customer_id in (select customer_id from small)
              and owned.customer_id not in (
                  select customer_id from marts.dim_customer_identifiers
                  where identifier_type in ('app_user_id', 'shop_customer_id'))
            group by owned.customer_id
        )
        select absorbed.customer_id, absorbed.app_user_id, absorbed.email, survivor.customer_id, survivor.phone,
            (select customer_id from marts.fct_events where app_user_id = '{exclude_user}' limit 1)
        from absorbed
        inner join survivor on survivor.customer_id < absorbed.customer_id
        order by absorbed.customer_id desc, survivor.customer_id
        limit 1
        """,
    )
    assert rows, "no pair of customers to merge in the built warehouse"
    absorbed, app_user_id, email, survivor, phone, erased = rows[0]
    return {
        "absorbed": absorbed,
        "absorbed_user": app_user_id,
        "email": email,
        "survivor": survivor,
        "phone": phone,
        "erased": erased,
    }


def _pick_device(database: Path, exclude_customers: list[str]) -> dict[str, str]:
    """A device with anonymous events stitched to one customer, and another customer's app user."""
    excluded = "', '".join(exclude_customers)
    rows = query(
        database,
        f"""
        with devices as (
            select anonymous_id
            from marts.fct_events
            where anonymous_id is not null
            group by anonymous_id
            having count(*) filter (where attribution_method = 'anonymous_id') > 0
               and count(distinct customer_id) = 1
               and count(*) filter (where customer_id in ('{excluded}')) = 0
        ),
        earliest as (
            select events.anonymous_id, min(events.event_at) as event_at, min(events.customer_id) as customer_id
            from marts.fct_events as events
            inner join devices on devices.anonymous_id = events.anonymous_id
            where events.attribution_method = 'anonymous_id'
            group by events.anonymous_id
        ),
        users as (
            select app_user_id, min(customer_id) as customer_id
            from marts.fct_events
            where attribution_method = 'user_id'
            group by app_user_id
            having count(distinct customer_id) = 1
        )
        select earliest.anonymous_id, earliest.event_at, earliest.customer_id, users.app_user_id, users.customer_id
        from earliest
        inner join users
            on users.customer_id <> earliest.customer_id and users.customer_id not in ('{excluded}')
        order by earliest.anonymous_id, users.app_user_id
        limit 1
        """,
    )
    assert rows, "no device to link in the built warehouse"
    anonymous_id, at, owner, app_user_id, new_owner = rows[0]
    return {
        "anonymous_id": anonymous_id,
        "at": at.isoformat(timespec="milliseconds") + "Z",
        "device_owner": owner,
        "app_user_id": app_user_id,
        "new_owner": new_owner,
    }


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    directory = tmp_path_factory.mktemp("incremental")
    incremental = built_copy(directory)
    landed = _land_new_raw_rows(incremental)
    full = directory / "full_refresh.duckdb"
    shutil.copy(incremental, full)
    # the tables as the previous run left them, for the erasure check
    before = directory / "before.duckdb"
    shutil.copy(incremental, before)
    landed["before"] = str(before)
    run_dbt(incremental, "run")
    run_dbt(full, "run", "--full-refresh")
    return incremental, full, landed


def _differences(database: Path, full: Path, relation: str) -> tuple[int, int]:
    """Rows only in `database`'s relation, rows only in `full`'s (a non-empty relation)."""
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute(f"attach '{full}' as full_refresh (read_only)")
        other = f"full_refresh.{relation}"
        differences = connection.sql(
            f"""select
                    (select count(*) from (select * from {relation} except all select * from {other})),
                    (select count(*) from (select * from {other} except all select * from {relation})),
                    (select count(*) from {other})"""
        ).fetchall()[0]
    assert differences[2] > 0, f"{relation} is empty"
    return differences[0], differences[1]


@pytest.mark.parametrize("relation", INCREMENTAL_TABLES)
def test_incremental_equals_full_refresh(builds: tuple[Path, Path, dict[str, str]], relation: str) -> None:
    incremental, full, _ = builds
    assert _differences(incremental, full, relation) == (0, 0)


def test_the_new_data_reached_the_incremental_tables(builds: tuple[Path, Path, dict[str, str]]) -> None:
    """Guards the comparison: the incremental run did see each kind of change."""
    incremental, _, landed = builds
    assert (
        query(incremental, "select count(*) from staging.stg_web__events where message_id like '%-incr'")[0][
            0
        ]
        > 0
    )
    assert query(
        incremental,
        f"select order_status from staging.stg_shop__orders where order_id = '{landed['order_id']}'",
    ) == [("refunded",)]
    assert query(
        incremental, f"select sku from staging.stg_shop__order_lines where order_id = '{landed['order_id']}'"
    ) == [("INCR-1",)]
    assert query(
        incremental,
        f"""select is_line_items_invalid, (select count(*) from staging.stg_shop__order_lines
                                           where order_id = '{landed["emptied_order"]}')
            from staging.stg_shop__orders where order_id = '{landed["emptied_order"]}'""",
    ) == [(True, 0)]
    assert (
        query(
            incremental,
            f"select count(*) from staging.stg_web__events where app_user_id = '{landed['erased_user']}'",
        )[0][0]
        == 0
    )
    assert (
        query(incremental, "select count(*) from marts.erased_customers where request_id = 'D-INCR-0001'")[0][
            0
        ]
        > 0
    )
    assert query(
        incremental,
        f"select count(*) from audiences.aud_cart_abandoners where customer_id = '{landed['cart_customer']}'",
    ) == [(1,)]
    # the erasure scope's index and the accounting's ledger appended the new rows
    newest = query(incremental, "select max(_loaded_at) from raw.web_events")[0][0]
    for relation in ("staging.stg_privacy__identifier_index", "staging.stg_audit__raw_row_ledger"):
        assert (
            query(
                incremental,
                f"select count(*) from {relation} where source_table = 'web_events' and _loaded_at = '{newest}'",
            )[0][0]
            > 0
        ), relation


def test_the_new_data_reached_the_incremental_staging_tables(
    builds: tuple[Path, Path, dict[str, str]],
) -> None:
    """Guards the comparison for the versioned sources: each new record, new version, redelivery
    and new statement is staged as its newest row."""
    incremental, _, landed = builds
    watermark = query(incremental, "select max(_loaded_at) from raw.crm_contacts")[0][0]
    assert query(
        incremental,
        f"""select
                (select count(*) from staging.stg_crm__contacts where contact_id = 'C-INCR-NEW'),
                (select list(company_name) from staging.stg_crm__contacts
                 where contact_id = '{landed["changed_contact"]}'),
                (select list(_loaded_at) from staging.stg_crm__contacts
                 where contact_id = '{landed["redelivered_contact"]}'),
                (select count(*) from staging.stg_shop__customers where shop_customer_id = 'SC-INCR-NEW'),
                (select list(city) from staging.stg_shop__customers
                 where shop_customer_id = '{landed["changed_customer"]}'),
                (select list(city = 'Lateville') from staging.stg_shop__customers
                 where shop_customer_id = '{landed["late_customer"]}'),
                (select list(plan) from staging.stg_app__users where app_user_id = '{landed["changed_user"]}'),
                (select list(_loaded_at) from staging.stg_app__users
                 where app_user_id = '{landed["redelivered_user"]}'),
                (select list(is_granted) from staging.stg_consent__events where consent_id = 'CONS-INCR-1'),
                (select count(*) from staging.stg_helpdesk__tickets where ticket_id = 'T-INCR-1'),
                (select count(*) from staging.stg_newsletter__signups where signup_id = 'NL-INCR-1')""",
    ) == [
        (
            1,
            ["Incr Company"],
            [watermark],
            1,
            ["Incrville"],
            [False],
            ["incr-plan"],
            [watermark],
            [False],
            1,
            1,
        )
    ]


def test_records_erased_after_they_were_staged_left_staging(
    builds: tuple[Path, Path, dict[str, str]],
) -> None:
    """The new deletion requests reach records the previous run staged (the post-hooks have something
    to delete), and no incremental staging model holds a record of the erasure scope afterwards."""
    incremental, _, landed = builds
    with duckdb.connect(str(incremental), read_only=True) as connection:
        connection.execute(f"attach '{landed['before']}' as before_run (read_only)")
        erased_before = 0
        for relation, source_table in INCREMENTAL_STAGING.items():
            key = STAGING_KEYS[source_table]
            scope = f"""select source_record_id from staging.stg_privacy__erasure_scope
                        where source_table = '{source_table}' and source_record_id is not null"""
            erased_before += connection.sql(
                f"select count(*) from before_run.{relation} where {key} in ({scope})"
            ).fetchall()[0][0]
            left = connection.sql(f"select count(*) from {relation} where {key} in ({scope})").fetchall()[0][
                0
            ]
            assert left == 0, relation
        staged_accounts_erased = connection.sql(
            f"""select count(*) from before_run.staging.stg_app__users
                where app_user_id = '{landed["erased_user"]}'"""
        ).fetchall()[0][0]
    assert erased_before > 0
    assert staged_accounts_erased == 1


def test_customers_left_without_records_left_the_customer_marts(
    builds: tuple[Path, Path, dict[str, str]],
) -> None:
    """The delta (erasures, merges) makes customer ids vanish: the incremental customer marts' post-hooks
    must delete their rows, which the comparison with the full refresh then covers."""
    incremental, _, landed = builds
    with duckdb.connect(str(incremental), read_only=True) as connection:
        connection.execute(f"attach '{landed['before']}' as before_run (read_only)")
        vanished = connection.sql(
            """select customer_id from before_run.marts.dim_customers
               except select customer_id from marts.dim_customer_records"""
        ).fetchall()
        assert vanished
        for mart in (
            "marts.dim_customers",
            "marts.dim_customer_identifiers",
            "marts.customer_consent",
            "marts.customer_consent_flags",
        ):
            left = connection.sql(
                f"""select count(*) from {mart} where customer_id in (
                        select customer_id from before_run.marts.dim_customers
                        except select customer_id from marts.dim_customer_records)"""
            ).fetchall()[0][0]
            assert left == 0, mart


def test_a_date_of_birth_that_became_plausible_is_restaged(tmp_path: Path) -> None:
    """The one staging rule that reads the clock: a date of birth in the future is nulled and
    flagged, and a later run (no new raw row) must stage it once the date has passed, as a full
    build at that clock does."""
    database = built_copy(tmp_path)
    contact = query(
        database, "select max(contact_id) from staging.stg_crm__contacts where not is_date_of_birth_invalid"
    )[0][0]
    execute(
        database,
        f"""insert into raw.crm_contacts
            select * replace ('2026-11-15' as date_of_birth, '2026-11-01T00:00:00Z' as updated_at,
                              (select max(_loaded_at) + interval 1 hour from raw.crm_contacts) as _loaded_at)
            from raw.crm_contacts
            where trim(contact_id) = '{contact}'
            order by _loaded_at desc
            limit 1""",
    )
    date_of_birth = f"""select date_of_birth, is_date_of_birth_invalid from staging.stg_crm__contacts
                        where contact_id = '{contact}'"""
    run_dbt(database, "run", "--select", "stg_crm__contacts")
    assert query(database, date_of_birth) == [(None, True)]
    full = tmp_path / "full_refresh.duckdb"
    shutil.copy(database, full)
    later = {"cdp_run_at": "2026-12-01 12:00:00"}
    run_dbt(database, "run", "--select", "stg_crm__contacts", dbt_vars=later)
    run_dbt(full, "run", "--select", "stg_crm__contacts", "--full-refresh", dbt_vars=later)
    assert query(database, date_of_birth) == [(date(2026, 11, 15), False)]
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute(f"attach '{full}' as full_refresh (read_only)")
        differences = connection.sql(
            """select
                   (select count(*) from (select * from staging.stg_crm__contacts
                                          except all select * from full_refresh.staging.stg_crm__contacts)),
                   (select count(*) from (select * from full_refresh.staging.stg_crm__contacts
                                          except all select * from staging.stg_crm__contacts))"""
        ).fetchall()[0]
    assert differences == (0, 0)


def test_the_quarantine_saw_each_change(builds: tuple[Path, Path, dict[str, str]]) -> None:
    """A new bad row is added, an old one covered by a new deletion request is deleted, and new rows
    of a person erased before (keyed or not) never enter staging or the quarantine."""
    incremental, _, landed = builds
    assert query(
        incremental,
        """select quarantine_reason from staging.stg_audit__quarantine
           where source_table = 'crm_contacts' and source_record_id = 'C-INCR-QUARANTINED'""",
    ) == [("missing or unparseable created_at and updated_at",)]
    assert query(
        incremental,
        f"""select count(*) from staging.stg_audit__quarantine
            where source_table = 'consent_events' and source_record_id = '{landed["quarantined_consent"]}'""",
    ) == [(0,)]
    assert query(
        incremental,
        f"""select count(*) from staging.stg_audit__quarantine
            where source_table = 'web_events' and raw_row like '%{landed["already_erased_user"]}%'""",
    ) == [(0,)]
    assert query(
        incremental, "select count(*) from staging.stg_web__events where message_id = 'INCR-ERASED-1'"
    ) == [(0,)]
    # the key-less row was landed and is counted as erased, by the hash of its raw row
    assert query(
        incremental,
        f"""select count(*) from raw.web_events
            where message_id is null and user_id = '{landed["already_erased_user"]}'""",
    ) == [(1,)]
    assert (
        query(
            incremental,
            """select count(*) from staging.stg_privacy__erasure_scope
           where source_table = 'web_events' and source_record_id is null""",
        )[0][0]
        > 0
    )


def test_old_rows_whose_attribution_changed_were_rewritten(builds: tuple[Path, Path, dict[str, str]]) -> None:
    """The merge and the device link change rows that got no new data: the comparison above only
    proves the recomputed set was large enough if these changes really happened."""
    incremental, full, landed = builds
    moved = query(
        full,
        f"""select count(*), count(*) filter (where customer_id = '{landed["absorbed"]}')
            from marts.fct_events where app_user_id = '{landed["absorbed_user"]}' and message_id not like '%-incr'""",
    )[0]
    assert moved[0] > 0 and moved[1] == 0, moved
    relinked = query(
        full,
        f"""select customer_id, attribution_method from marts.fct_events
            where anonymous_id = '{landed["anonymous_id"]}' and message_id <> 'INCR-DEVICE-LINK'
              and attribution_method = 'anonymous_id'
            order by event_at, message_id limit 1""",
    )
    assert relinked == [(landed["new_owner"], "anonymous_id")], (relinked, landed)
    for database in (incremental, full):
        assert query(
            database, f"select count(*) from marts.fct_events where customer_id = '{landed['absorbed']}'"
        ) == [(0,)]


# ---- the events hot path between scheduled runs ---------------------------------------------------

HOT_PATH_MODELS = {"stg_web__events", "fct_events", "aud_cart_abandoners", "aud_high_intent_browsers"}


@pytest.fixture(scope="module")
def hot_path(
    builds: tuple[Path, Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, dict[str, object]]:
    """The same new raw rows as `builds`, first through `dbt build --selector events_hot_path`
    (what it built and what the audience held then), then through the scheduled incremental run.
    Compared with `builds`' full refresh of the same raw data."""
    _, full, landed = builds
    database = built_copy(tmp_path_factory.mktemp("hot_path"))
    assert _land_new_raw_rows(database) == {key: value for key, value in landed.items() if key != "before"}
    identity_before = query(database, "select count(*), max(customer_id) from marts.dim_customers")
    output = run_dbt(database, "build", "--selector", "events_hot_path")
    seen: dict[str, object] = {
        "built": {
            line.split(" model ", 1)[1].split()[0].split(".")[-1]
            for line in output.splitlines()
            if " OK created " in line and " model " in line
        },
        "audience": query(database, "select customer_id from audiences.aud_cart_abandoners"),
        "identity": query(database, "select count(*), max(customer_id) from marts.dim_customers"),
        "identity_before": identity_before,
    }
    run_dbt(database, "run")
    return database, full, seen


def test_hot_path_builds_only_the_event_models(hot_path: tuple[Path, Path, dict[str, object]]) -> None:
    _, _, seen = hot_path
    assert seen["built"] == HOT_PATH_MODELS
    assert seen["identity"] == seen["identity_before"]


def test_hot_path_puts_a_new_cart_in_the_audience(
    builds: tuple[Path, Path, dict[str, str]], hot_path: tuple[Path, Path, dict[str, object]]
) -> None:
    _, _, landed = builds
    _, _, seen = hot_path
    assert (landed["cart_customer"],) in seen["audience"]


@pytest.mark.parametrize("relation", INCREMENTAL_TABLES)
def test_scheduled_run_after_hot_path_equals_full_refresh(
    hot_path: tuple[Path, Path, dict[str, object]], relation: str
) -> None:
    """The hot path staged and attributed events with the old identity and erasure scope; the next
    scheduled run must still end where a full refresh ends (merged customers, new erasures)."""
    database, full, _ = hot_path
    assert _differences(database, full, relation) == (0, 0)


# ---- an incremental run writes only what can have changed ----------------------------------------

MARKER = "untouched-by-the-incremental-run"


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built copy whose fact rows all carry a marker in a column the attribution never reads."""
    database = built_copy(tmp_path_factory.mktemp("incremental_writes"))
    execute(
        database,
        f"""
        update marts.fct_events set page_path = '{MARKER}';
        update marts.fct_orders set reporting_currency = '{MARKER}';
        """,
    )
    return database


def _unmarked(database: Path) -> tuple[int, int, int]:
    return query(
        database,
        f"""select
                (select count(*) from marts.fct_events where page_path is distinct from '{MARKER}'),
                (select count(*) from marts.fct_orders where reporting_currency is distinct from '{MARKER}'),
                (select count(*) from marts.fct_events)""",
    )[0]


def test_incremental_run_without_changes_rewrites_nothing(marked: Path) -> None:
    run_dbt(marked, "run", "--select", "stg_web__events", "stg_shop__orders", "fct_events", "fct_orders")
    events, orders, total = _unmarked(marked)
    assert (events, orders) == (0, 0)
    assert total > 1000


def test_incremental_run_rewrites_only_new_events_and_their_devices(marked: Path) -> None:
    """Two new events on one known device, identity untouched: the new events and the events of
    that device are recomputed (the device's links decide them), nothing else."""
    device, device_events = query(
        marked,
        """select anonymous_id, count(*) from marts.fct_events where anonymous_id is not null
           group by anonymous_id having count(*) >= 3 order by count(*) desc, anonymous_id limit 1""",
    )[0]
    execute(
        marked,
        f"""
        insert into raw.web_events
            select * replace (message_id || '-write' as message_id,
                              (select max(_loaded_at) + interval 1 hour from raw.web_events) as _loaded_at)
            from raw.web_events
            where anonymous_id = '{device}' and type = 'track' and message_id is not null
            order by message_id
            limit 2;
        """,
    )
    run_dbt(marked, "run", "--select", "stg_web__events", "stg_shop__orders", "fct_events", "fct_orders")
    events, orders, total = _unmarked(marked)
    new_events = query(marked, "select count(*) from marts.fct_events where message_id like '%-write'")[0][0]
    assert new_events == 2
    assert events == device_events + new_events, (events, device_events, total)
    assert orders == 0


# ---- consent: incremental per customer --------------------------------------------------------

CONSENT_MODELS = (
    "stg_consent__events",
    "int_consent__statements",
    "customer_consent",
    "customer_consent_flags",
)
CONSENT_MARTS = ("marts.customer_consent", "marts.customer_consent_flags")


def _run_consent(database: Path, *extra: str, run_at: str = RUN_AT) -> None:
    run_dbt(database, "run", "--select", *CONSENT_MODELS, *extra, dbt_vars={"cdp_run_at": run_at})


def _sole_app_user(database: Path, exclude: str = "") -> tuple[str, str]:
    """An app user id held by exactly one customer (a grant through it reaches that customer only)."""
    return query(
        database,
        f"""select min(identifier_value), min(customer_id) from marts.dim_customer_identifiers
            where identifier_type = 'app_user_id' and is_linkable and identifier_value <> '{exclude}'
            group by identifier_value having count(*) = 1
            order by 1 limit 1""",
    )[0]


def _land_consent_statement(database: Path, consent_id: str, app_user_id: str, recorded_at: str) -> None:
    execute(
        database,
        f"""insert into raw.consent_events (consent_id, user_id, purpose, granted, recorded_at, source, _loaded_at)
            values ('{consent_id}', '{app_user_id}', 'sms_marketing', 'true', '{recorded_at}', 'web',
                    (select max(_loaded_at) + interval 1 hour from raw.consent_events))""",
    )


def test_the_delta_changed_consent(builds: tuple[Path, Path, dict[str, str]]) -> None:
    """Guards the consent comparison: the new statement, the merge and the erasure changed rows of
    customers that existed before, so rebuilt rows are compared (not only kept ones)."""
    incremental, _, landed = builds
    rows = "select * exclude (inputs_fingerprint) from marts.customer_consent"
    assert set(query(Path(landed["before"]), rows)) - set(query(incremental, rows))
    for customer in (landed["absorbed"], landed["erased"]):
        assert query(
            incremental, f"select count(*) from marts.customer_consent where customer_id = '{customer}'"
        ) == [(0,)], customer
    assert query(
        incremental,
        """select consent.decided_at, consent.is_granted from marts.customer_consent as consent
           inner join intermediate.int_consent__statements as statements
               on statements.customer_id = consent.customer_id and statements.purpose = consent.purpose
           where statements.source_record_key = 'consent_events:CONS-INCR-1'""",
    ) == [(datetime(2026, 10, 31, 13, 0), False)]


def test_consent_marts_rewrite_only_customers_whose_statements_changed(tmp_path: Path) -> None:
    """Marker test: a marker planted in every consent row survives on customers the new statement does
    not reach; the one customer it reaches is rebuilt, in both marts."""
    database = built_copy(tmp_path)
    app_user_id, customer = _sole_app_user(database)
    execute(
        database,
        f"""update marts.customer_consent set decided_via = '{MARKER}';
            update marts.customer_consent_flags set email_marketing_consent_status = '{MARKER}';""",
    )
    _land_consent_statement(database, "CONS-WRITE-1", app_user_id, "2026-10-31T13:00:00Z")
    _run_consent(database)
    assert query(
        database,
        f"""select customer_id, count(*) from marts.customer_consent
            where decided_via is distinct from '{MARKER}' group by customer_id""",
    ) == [(customer, 4)]
    assert query(
        database,
        f"""select customer_id from marts.customer_consent_flags
            where email_marketing_consent_status is distinct from '{MARKER}'""",
    ) == [(customer,)]
    assert query(
        database,
        f"""select sms_marketing_consent, sms_marketing_consent_decided_at from marts.customer_consent_flags
            where customer_id = '{customer}'""",
    ) == [(True, datetime(2026, 10, 31, 13, 0))]
    assert (
        query(database, f"select count(*) from marts.customer_consent where decided_via = '{MARKER}'")[0][0]
        > 100
    )


def test_consent_at_a_later_run_time_equals_a_full_rebuild(tmp_path: Path) -> None:
    """The one input that moves without new data is the clock: a statement recorded after the run time
    is left out, and a later run must take it in as a full rebuild at that time does."""
    database = built_copy(tmp_path)
    app_user_id, customer = _sole_app_user(database)
    later = (datetime.fromisoformat(RUN_AT) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    at = (datetime.fromisoformat(RUN_AT) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _land_consent_statement(database, "CONS-LATER-1", app_user_id, at)
    decision = f"""select sms_marketing_consent_decided_at from marts.customer_consent_flags
                   where customer_id = '{customer}'"""
    _run_consent(database)
    assert query(database, decision) != [(datetime.fromisoformat(at[:-1]),)]
    full = tmp_path / "full_refresh.duckdb"
    shutil.copy(database, full)
    _run_consent(database, run_at=later)
    _run_consent(full, "--full-refresh", run_at=later)
    assert query(database, decision) == [(datetime.fromisoformat(at[:-1]),)]
    for relation in CONSENT_MARTS:
        assert _differences(database, full, relation) == (0, 0), relation


def test_consent_marts_built_before_the_fingerprint_upgrade_in_place(
    builds: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """Consent marts built as tables without `inputs_fingerprint` (an upgrade): the first incremental run
    adds the column and rebuilds every customer, giving what a full rebuild gives."""
    incremental, full, _ = builds
    database = tmp_path / "upgraded.duckdb"
    shutil.copy(incremental, database)
    execute(
        database,
        f"""alter table marts.customer_consent drop column inputs_fingerprint;
            update marts.customer_consent set decided_via = '{MARKER}';
            alter table marts.customer_consent_flags drop column inputs_fingerprint;
            update marts.customer_consent_flags set email_marketing_consent_status = '{MARKER}';""",
    )
    _run_consent(database)
    for relation in CONSENT_MARTS:
        assert _differences(database, full, relation) == (0, 0), relation
