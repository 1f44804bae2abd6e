"""One builder per raw table (web events and orders live in web.py and commerce.py).

A builder draws per-record facts in numpy (who, when, which corruption), attaches the
person's clean attributes, and hands the facts plus one SQL expression per contract
column to `Ctx.emit`, which renders them in DuckDB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from . import mess, vocab
from .config import DAY, HOUR, GenConfig
from .contract import GROUND_TRUTH, KEY_PREFIX, TABLES
from .people import People, Vocab

MINUTE_MS = 60_000
HOUR_MS = HOUR * 1000
DAY_MS = DAY * 1000
PERSON_COLS = (
    "person_id",
    "country_code",
    "first_name",
    "last_name",
    "nick",
    "email",
    "domain_typo",
    "work_email",
    "company",
    "phone_a",
    "phone_b",
    "street",
    "house_no",
    "city",
    "city_alt",
    "postcode",
    "dob_y",
    "dob_m",
    "dob_d",
)


@dataclass
class Stats:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, table: str, rows: int, seconds: float) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
        self.seconds[table] = self.seconds.get(table, 0.0) + seconds


@dataclass
class Ctx:
    """Everything a builder needs for one chunk of people."""

    con: duckdb.DuckDBPyConnection
    cfg: GenConfig
    voc: Vocab
    rng: np.random.Generator
    people: People
    counters: dict[str, int]
    stats: Stats
    schema: str = "raw"  # catalog-qualified raw schema of the target
    # Cross-table facts produced earlier in the chunk (orders for tickets and web, ...).
    shared: dict[str, object] = field(default_factory=dict)

    @property
    def now_ms(self) -> int:
        return self.cfg.now_s * 1000

    def ids(self, table: str, created_ms: np.ndarray) -> np.ndarray:
        """Sequential ordinals in creation order, continuing from earlier chunks, so
        C-1001 is older than C-1002 and a person's two records are not neighbours."""
        n = created_ms.size
        out = np.empty(n, dtype=np.int64)
        out[np.argsort(created_ms, kind="stable")] = self.counters.get(table, 0) + np.arange(n)
        self.counters[table] = self.counters.get(table, 0) + n
        return out

    def person(self, idx: np.ndarray, cols: tuple[str, ...] = PERSON_COLS) -> dict[str, pa.Array]:
        t = self.people.table.select(list(cols)).take(pa.array(idx, type=pa.int64()))
        return {c: t.column(c) for c in cols}

    def offsets(self, idx: np.ndarray) -> np.ndarray:
        return self.people.offset_min[idx]

    def loaded(self, ms: np.ndarray, lo_min: float = 5, hi_min: float = 720) -> np.ndarray:
        """Loader lag: rows land minutes to hours after they change, never after `now`."""
        lag = (lo_min + self.rng.random(ms.size) * (hi_min - lo_min)) * MINUTE_MS
        return np.minimum(ms + lag.astype(np.int64), self.now_ms)

    def uniform_ms(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.maximum(np.asarray(hi, dtype=np.int64), lo)
        return lo + (self.rng.random(lo.size) * (hi - lo)).astype(np.int64)

    def emit(self, table: str, facts: pa.Table, exprs: dict[str, str], pk: str, started: float) -> None:
        """Render `facts` into raw.<table> and its ground-truth rows."""
        assert tuple(exprs) == TABLES[table], f"{table}: columns out of contract order"
        select = ", ".join(f'{sql} AS "{col}"' for col, sql in exprs.items())
        self.con.register("f", facts)
        try:
            self.con.execute(
                f"INSERT INTO {self.schema}.{table} SELECT {select}, cdp_loaded(loaded_ms) FROM f"
            )
            self.con.execute(
                f"INSERT INTO {self.schema}.{GROUND_TRUTH} "
                f"SELECT '{table}:' || ({pk}), person_id FROM f WHERE gt"
            )
        finally:
            self.con.unregister("f")
        self.stats.add(table, facts.num_rows, time.perf_counter() - started)


def pk_sql(table: str) -> str:
    return f"'{KEY_PREFIX[table]}' || CAST(1001 + ord AS VARCHAR)"


def pk_col(table: str) -> str:
    return f"CASE WHEN pk_null THEN NULL ELSE {pk_sql(table)} END"


def set_col(t: pa.Table, name: str, values: object) -> pa.Table:
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    i = t.schema.get_field_index(name)
    return t.set_column(i, name, arr) if i >= 0 else t.append_column(name, arr)


def by_id(t: pa.Table) -> pa.Table:
    """Rows in primary-key order, as an export would list them."""
    return t.take(pa.array(np.argsort(t.column("ord").to_numpy(), kind="stable")))


def versions(
    ctx: Ctx,
    t: pa.Table,
    dup_frac: float,
    junk_frac: float,
    stale: Callable[[pa.Table], pa.Table] | None = None,
) -> pa.Table:
    """Add the two kinds of repeated rows real loaders produce.

    - A stale version: the same primary key landed earlier with an older updated_at and
      an older _loaded_at (the fresh row is the truth).
    - A junk copy: the row again with its primary key missing, so staging has something
      to quarantine. It is not a record, so it has no ground truth row.
    """
    rng, now = ctx.rng, ctx.now_ms
    t = by_id(t)
    n = t.num_rows
    created = t.column("created_ms").to_numpy()
    upd = t.column("upd_ms").to_numpy()
    eligible = created < now - 4 * HOUR_MS
    dup = eligible & (rng.random(n) < dup_frac)
    # Small runs (the 300-person demo) still get at least one of each kind of repeat.
    if dup_frac > 0 and not dup.any() and eligible.any():
        dup[rng.choice(np.flatnonzero(eligible))] = True
    bump = created + ((3 + rng.random(n) * 477) * HOUR_MS).astype(np.int64)
    upd = np.where(dup, np.minimum(np.maximum(upd, bump), now - MINUTE_MS), upd)
    loaded = ctx.loaded(upd)
    t = set_col(set_col(t, "upd_ms", upd), "loaded_ms", loaded)
    t = set_col(set_col(t, "gt", np.ones(n, dtype=bool)), "pk_null", np.zeros(n, dtype=bool))
    parts = [t]
    idx = np.flatnonzero(dup)
    if idx.size:
        old = t.take(pa.array(idx))
        c, u = created[idx], upd[idx]
        stale_upd = c + ((u - c) * rng.random(idx.size) * 0.5).astype(np.int64)
        old = set_col(old, "upd_ms", stale_upd)
        old = set_col(old, "loaded_ms", ctx.loaded(stale_upd, 5, 60))
        old = set_col(old, "gt", np.zeros(idx.size, dtype=bool))
        parts.append(stale(old) if stale else old)
    jidx = np.flatnonzero(rng.random(n) < junk_frac)
    if junk_frac > 0 and jidx.size == 0 and n:
        jidx = np.array([rng.integers(n)])
    if jidx.size:
        junk = t.take(pa.array(jidx))
        junk = set_col(junk, "pk_null", np.ones(jidx.size, dtype=bool))
        junk = set_col(junk, "gt", np.zeros(jidx.size, dtype=bool))
        parts.append(junk)
    return pa.concat_tables(parts)


def _base(ctx: Ctx, idx: np.ndarray, created: np.ndarray, upd: np.ndarray, table: str) -> dict[str, object]:
    return {
        "ord": ctx.ids(table, created),
        "created_ms": created,
        "upd_ms": upd,
        "off": ctx.offsets(idx),
        **ctx.person(idx),
    }


def _addr_codes(rng: np.random.Generator, n: int, missing: float) -> dict[str, np.ndarray]:
    gone = rng.random(n) < missing
    st = mess.choice(rng, (0.85, 0.05, 0.10), n)
    city = mess.choice(rng, (0.85, 0.07, 0.05, 0.03), n)
    pcode = mess.choice(rng, (0.88, 0.06, 0.04, 0.02), n)
    return {
        "st_code": np.where(gone, 3, st).astype(np.int8),
        "city_code": np.where(gone, 3, city).astype(np.int8),
        "pc_code": np.where(gone, 3, pcode).astype(np.int8),
    }


def _name_sql(first: bool, p: str = "nf", q: str = "nl") -> str:
    """First/last name with per-field mess; `swap` puts each in the other's column."""
    f = f"cdp_name(first_name, nick, {p}_code, {p}_u, {p}_c, {p}_k)"
    lst = f"cdp_name(last_name, NULL, {q}_code, {q}_u, {q}_c, {q}_k)"
    return f"CASE WHEN swap THEN {lst} ELSE {f} END" if first else f"CASE WHEN swap THEN {f} ELSE {lst} END"


EMAIL_SQL = "cdp_email(email, e_code, e_u, e_c, e_k, domain_typo)"
PHONE_SQL = "cdp_phone(country_code, phone_a, phone_b, ph_fmt, ph_mess, ph_x)"


def ts(col: str, fmt: str) -> str:
    return f"cdp_ts({col}, {fmt}, off)"


# ---------------------------------------------------------------- crm_contacts


def crm_contacts(ctx: Ctx) -> None:
    t0 = time.perf_counter()
    P, rng = ctx.people, ctx.rng
    idx = np.repeat(np.arange(P.n), P.n_crm)
    n = idx.size
    # CRM often knows people before they buy (sales leads), so created_at can precede
    # the person's first web/shop activity by up to two months.
    created = ctx.uniform_ms((P.start[idx] - 60 * DAY) * 1000, P.end[idx] * 1000)
    created = np.maximum(created, (ctx.cfg.now_s - ctx.cfg.history_days * DAY) * 1000)
    upd = np.where(
        rng.random(n) < 0.4,
        created,
        ctx.uniform_ms(created, np.minimum(P.end[idx] * 1000 + 30 * DAY_MS, ctx.now_ms)),
    )
    use_work = P.has_company[idx] & (rng.random(n) < 0.55)
    cols = _base(ctx, idx, created, upd, "crm_contacts")
    cols |= mess.email_cols(rng, n, "manual") | mess.name_cols(rng, n, "nf") | mess.name_cols(rng, n, "nl")
    cols |= mess.phone_cols(rng, n, P.has_phone[idx] & (rng.random(n) < 0.8), 0.04, 0.03)
    cols |= _addr_codes(rng, n, 0.25)
    cols |= {
        "use_work": use_work,
        "swap": rng.random(n) < 0.02,
        "show_company": P.has_company[idx] & (rng.random(n) < 0.85),
        "cty_fmt": mess.choice(rng, mess.COUNTRY_P, n),
        "dob_fmt": mess.choice(rng, mess.DOB_P, n),
        "ts1": mess.ts_fmt(rng, n),
        "ts2": mess.ts_fmt(rng, n),
        "is_del": rng.random(n) < 0.03,
        "b_fmt": mess.bools(rng, n),
    }
    facts = versions(ctx, pa.table(cols), 0.03, 0.003, _stale_contact)
    exprs = {
        "contact_id": pk_col("crm_contacts"),
        "email": "cdp_email(CASE WHEN use_work THEN work_email ELSE email END, e_code, e_u, "
        "e_c, e_k, CASE WHEN use_work THEN NULL ELSE domain_typo END)",
        "phone": PHONE_SQL,
        "first_name": _name_sql(True),
        "last_name": _name_sql(False),
        "company": "CASE WHEN show_company THEN company END",
        "street": "cdp_street(country_code, street, house_no, st_code)",
        "city": "cdp_city(city, city_alt, city_code)",
        "postal_code": "cdp_postcode(postcode, pc_code)",
        "country": "cdp_country(country_code, cty_fmt)",
        "date_of_birth": "cdp_dob(dob_y, dob_m, dob_d, dob_fmt)",
        "created_at": ts("created_ms", "ts1"),
        "updated_at": ts("upd_ms", "ts2"),
        "is_deleted": "cdp_bool(is_del, b_fmt)",
    }
    ctx.emit("crm_contacts", facts, exprs, pk_sql("crm_contacts"), t0)


def _stale_contact(old: pa.Table) -> pa.Table:
    """The older version had no phone yet and a not-yet-cleaned email."""
    n = old.num_rows
    old = set_col(old, "ph_mess", np.full(n, 3, dtype=np.int8))
    return set_col(old, "e_code", np.full(n, 1, dtype=np.int8))


# ---------------------------------------------------------------- shop_customers


def shop_customers(ctx: Ctx) -> None:
    t0 = time.perf_counter()
    P, rng = ctx.people, ctx.rng
    cust = ctx.shared["customers"]  # person idx -> created_ms, from commerce
    idx: np.ndarray = cust["idx"]
    created: np.ndarray = cust["created_ms"]
    n = idx.size
    upd = np.where(
        rng.random(n) < 0.3,
        created,
        ctx.uniform_ms(created, np.minimum(P.end[idx] * 1000 + 7 * DAY_MS, ctx.now_ms)),
    )
    cols = {
        "ord": cust["ord"],
        "created_ms": created,
        "upd_ms": upd,
        "off": ctx.offsets(idx),
        **ctx.person(idx),
    }
    cols |= mess.email_cols(rng, n, "form") | mess.name_cols(rng, n, "nf") | mess.name_cols(rng, n, "nl")
    cols |= mess.phone_cols(rng, n, P.has_phone[idx] & (rng.random(n) < 0.6), 0.02, 0.0)
    cols |= _addr_codes(rng, n, 0.10)
    cols |= {
        "swap": rng.random(n) < 0.01,
        "cty_fmt": mess.choice(rng, (0.88, 0.05, 0.0, 0.0, 0.04, 0.0, 0.03), n),
        "ts1": mess.ts_fmt(rng, n),
        "ts2": mess.ts_fmt(rng, n),
        "marketing": rng.random(n) < 0.55,
        "b_fmt": mess.bools(rng, n),
    }
    facts = versions(ctx, pa.table(cols), 0.03, 0.0, _stale_customer)
    exprs = {
        "customer_id": pk_col("shop_customers"),
        "email": EMAIL_SQL,
        "phone": PHONE_SQL,
        "first_name": _name_sql(True),
        "last_name": _name_sql(False),
        "address1": "cdp_street(country_code, street, house_no, st_code)",
        "city": "cdp_city(city, city_alt, city_code)",
        "zip": "cdp_postcode(postcode, pc_code)",
        "country_code": "cdp_country(country_code, cty_fmt)",
        "accepts_email_marketing": "cdp_bool(marketing, b_fmt)",
        "created_at": ts("created_ms", "ts1"),
        "updated_at": ts("upd_ms", "ts2"),
    }
    ctx.emit("shop_customers", facts, exprs, pk_sql("shop_customers"), t0)


def _stale_customer(old: pa.Table) -> pa.Table:
    """Before the update the customer had opted out and had no address on file."""
    n = old.num_rows
    old = set_col(old, "marketing", np.zeros(n, dtype=bool))
    for c in ("st_code", "city_code", "pc_code"):
        old = set_col(old, c, np.full(n, 3, dtype=np.int8))
    return old


# ---------------------------------------------------------------- app_users


def app_users(ctx: Ctx) -> None:
    t0 = time.perf_counter()
    P, rng = ctx.people, ctx.rng
    app = ctx.shared["app"]
    idx: np.ndarray = app["idx"]
    n = idx.size
    signup: np.ndarray = app["signup_ms"]
    last_login = ctx.uniform_ms(signup, P.end[idx] * 1000)
    last_login = np.where(rng.random(n) < 0.05, -1, last_login)  # never logged in again
    deleted = np.where(rng.random(n) < 0.03, ctx.uniform_ms(np.maximum(last_login, signup), ctx.now_ms), -1)
    second = app["second"]  # a second account, usually with the work email
    use_work = second & P.has_company[idx]
    cols = {
        "ord": app["ord"],
        "created_ms": signup,
        "upd_ms": signup,
        "login_ms": pa.array(last_login, mask=last_login < 0),
        "deleted_ms": pa.array(deleted, mask=deleted < 0),
        "off": ctx.offsets(idx),
        **ctx.person(idx),
    }
    cols |= mess.email_cols(rng, n, "app") | mess.name_cols(rng, n, "nf") | mess.name_cols(rng, n, "nl")
    cols |= mess.phone_cols(rng, n, P.has_phone[idx] & (rng.random(n) < 0.45), 0.01, 0.0)
    cols |= {
        "use_work": use_work,
        "swap": np.zeros(n, dtype=bool),
        # 0 "First Last", 1 "Last, First", 2 first name only
        "fn_fmt": mess.choice(rng, (0.86, 0.08, 0.06), n),
        "plan": mess.choice(rng, vocab.PLAN_P, n),
        "ts1": mess.ts_fmt(rng, n),
        "ts2": mess.ts_fmt(rng, n),
        "ts3": mess.ts_fmt(rng, n),
    }
    facts = pa.table(cols)
    last = np.maximum(np.maximum(signup, last_login), deleted)
    facts = set_col(facts, "loaded_ms", ctx.loaded(last))
    facts = set_col(facts, "gt", np.ones(n, dtype=bool))
    facts = by_id(set_col(facts, "pk_null", np.zeros(n, dtype=bool)))
    first = _name_sql(True)
    last_sql = _name_sql(False)
    exprs = {
        "user_id": pk_col("app_users"),
        "email": "cdp_email(CASE WHEN use_work THEN coalesce(work_email, email) ELSE email END, "
        "e_code, e_u, e_c, e_k, CASE WHEN use_work THEN NULL ELSE domain_typo END)",
        "full_name": f"CASE fn_fmt WHEN 1 THEN concat_ws(', ', {last_sql}, {first}) "
        f"WHEN 2 THEN {first} ELSE concat_ws(' ', {first}, {last_sql}) END",
        "phone": PHONE_SQL,
        "plan": f"list_element({mess.sql_list(vocab.PLANS)}, plan + 1)",
        "signup_at": ts("created_ms", "ts1"),
        "last_login_at": ts("login_ms", "ts2"),
        "deleted_at": ts("deleted_ms", "ts3"),
    }
    ctx.emit("app_users", facts, exprs, pk_sql("app_users"), t0)


def plan_app_users(ctx: Ctx) -> None:
    """Decide app accounts (ids, signup times) early: web events need the user ids."""
    P, rng = ctx.people, ctx.rng
    idx = np.repeat(np.arange(P.n), P.n_app)
    second = np.zeros(idx.size, dtype=bool)
    second[1:] = idx[1:] == idx[:-1]
    span = (P.end[idx] - P.start[idx]) * 1000
    signup = P.start[idx] * 1000 + (span * rng.random(idx.size) * 0.3).astype(np.int64)
    signup = np.where(second, ctx.uniform_ms(signup, P.end[idx] * 1000), signup)
    ord_ = ctx.ids("app_users", signup)
    # Per person: the first account's ordinal and signup (web events use that account).
    first_ord = np.full(P.n, -1, dtype=np.int64)
    first_signup = np.zeros(P.n, dtype=np.int64)
    first_ord[idx[~second]] = ord_[~second]
    first_signup[idx[~second]] = signup[~second]
    ctx.shared["app"] = {
        "idx": idx,
        "signup_ms": signup,
        "ord": ord_,
        "second": second,
        "user_ord": first_ord,
        "user_signup_ms": first_signup,
    }


# ---------------------------------------------------------------- newsletter_signups


def newsletter_signups(ctx: Ctx) -> None:
    t0 = time.perf_counter()
    P, rng = ctx.people, ctx.rng
    n_sign = np.where(P.newsletter, 1 + (rng.random(P.n) < 0.06), 0)
    idx = np.repeat(np.arange(P.n), n_sign)
    n = idx.size
    created = ctx.uniform_ms(P.start[idx] * 1000, P.end[idx] * 1000)
    cols = _base(ctx, idx, created, created, "newsletter_signups")
    cols |= mess.email_cols(rng, n, "form") | mess.name_cols(rng, n, "nf")
    ip = rng.integers(0, 2**32, n, dtype=np.int64)
    cols |= {
        "show_name": rng.random(n) < 0.55,
        "src": mess.choice(rng, vocab.NEWSLETTER_SOURCE_P, n),
        "opted": rng.random(n) < 0.85,
        "b_fmt": mess.bools(rng, n),
        "ts1": mess.ts_fmt(rng, n),
        "ip": pa.array(ip, mask=rng.random(n) < 0.05),
        "ip_zero": rng.random(n) < 0.01,
    }
    t = pa.table(cols)
    t = set_col(t, "loaded_ms", ctx.loaded(created))
    facts = versions(ctx, t, 0.0, 0.004)
    exprs = {
        "signup_id": pk_col("newsletter_signups"),
        "email": EMAIL_SQL,
        "first_name": "CASE WHEN show_name THEN cdp_name(first_name, nick, nf_code, nf_u, nf_c, nf_k) END",
        "source": f"list_element({mess.sql_list(vocab.NEWSLETTER_SOURCES)}, src + 1)",
        "opted_in": "cdp_bool(opted, b_fmt)",
        "signed_up_at": ts("created_ms", "ts1"),
        "ip_address": "CASE WHEN ip_zero THEN '0.0.0.0' ELSE cdp_ip(ip) END",
    }
    ctx.emit("newsletter_signups", facts, exprs, pk_sql("newsletter_signups"), t0)


# ---------------------------------------------------------------- support_tickets


def support_tickets(ctx: Ctx) -> None:
    t0 = time.perf_counter()
    P, rng = ctx.people, ctx.rng
    n_t = np.where(P.support, rng.choice([1, 2, 3], size=P.n, p=[0.7, 0.2, 0.1]), 0)
    idx = np.repeat(np.arange(P.n), n_t)
    n = idx.size
    created = ctx.uniform_ms(P.start[idx] * 1000, P.end[idx] * 1000)
    # Tickets about an order quote one of the person's order ids.
    last_order: np.ndarray = ctx.shared["last_order_ord"]  # per person, -1 if none
    ref = last_order[idx]
    has_ref = ref >= 0
    n_order_tpl = 3
    tpl = np.where(
        has_ref & (rng.random(n) < 0.6),
        rng.integers(0, n_order_tpl, n),
        rng.integers(n_order_tpl, len(vocab.TICKET_SUBJECTS), n),
    )
    status = np.where(
        created < ctx.now_ms - 14 * DAY_MS,
        rng.choice([2, 3], size=n, p=[0.4, 0.6]),
        rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1]),
    )
    cols = _base(ctx, idx, created, created, "support_tickets")
    cols |= mess.email_cols(rng, n, "manual") | mess.name_cols(rng, n, "nf") | mess.name_cols(rng, n, "nl")
    cols |= mess.phone_cols(rng, n, P.has_phone[idx] & (rng.random(n) < 0.35), 0.03, 0.03)
    cols |= {
        "swap": np.zeros(n, dtype=bool),
        # 0 "First Last", 1 first name only, 2 missing
        "rn_fmt": mess.choice(rng, (0.75, 0.15, 0.10), n),
        "tpl": tpl.astype(np.int8),
        "order_ref": pa.array(ref, mask=~has_ref),
        "status": status.astype(np.int8),
        "ts1": mess.ts_fmt(rng, n),
    }
    t = pa.table(cols)
    t = set_col(t, "loaded_ms", ctx.loaded(created))
    facts = versions(ctx, t, 0.0, 0.0)
    first = "cdp_name(first_name, nick, nf_code, nf_u, nf_c, nf_k)"
    last_sql = "cdp_name(last_name, NULL, nl_code, nl_u, nl_c, nl_k)"
    exprs = {
        "ticket_id": pk_col("support_tickets"),
        "requester_email": EMAIL_SQL,
        "requester_name": f"CASE rn_fmt WHEN 0 THEN concat_ws(' ', {first}, {last_sql}) "
        f"WHEN 1 THEN {first} END",
        "requester_phone": PHONE_SQL,
        "subject": f"replace(list_element({mess.sql_list(vocab.TICKET_SUBJECTS)}, tpl + 1), "
        "'{order}', coalesce('O-' || CAST(1001 + order_ref AS VARCHAR), ''))",
        "status": f"list_element({mess.sql_list(vocab.TICKET_STATUSES)}, status + 1)",
        "created_at": ts("created_ms", "ts1"),
    }
    ctx.emit("support_tickets", facts, exprs, pk_sql("support_tickets"), t0)


# ---------------------------------------------------------------- consent_events


def consent_events(ctx: Ctx) -> None:
    t0 = time.perf_counter()
    P, rng = ctx.people, ctx.rng
    user_ord: np.ndarray = ctx.shared["app"]["user_ord"]
    # Each consenting person grants 1-3 purposes; a quarter later revoke one of them.
    n_grant = np.where(P.consent, rng.choice([1, 2, 3], size=P.n, p=[0.5, 0.3, 0.2]), 0)
    gidx = np.repeat(np.arange(P.n), n_grant)
    k = gidx.size
    first_of = np.r_[0, np.cumsum(n_grant)[:-1]]
    within = np.arange(k) - np.repeat(first_of, n_grant)
    start_p = rng.integers(0, 4, P.n)
    purpose = (start_p[gidx] + within) % 4
    # App users consent after signing up, so a consent naming the user id is plausible.
    lo = np.where(
        user_ord[gidx] >= 0,
        np.maximum(P.start[gidx] * 1000, ctx.shared["app"]["user_signup_ms"][gidx]),
        P.start[gidx] * 1000,
    )
    granted_at = ctx.uniform_ms(lo, P.end[gidx] * 1000)
    revoke = (within == 0) & (rng.random(k) < 0.25)
    ridx = np.flatnonzero(revoke)
    revoked_at = ctx.uniform_ms(granted_at[ridx], np.full(ridx.size, ctx.now_ms))
    idx = np.r_[gidx, gidx[ridx]]
    n = idx.size
    purpose = np.r_[purpose, purpose[ridx]]
    granted = np.r_[np.ones(k, dtype=bool), np.zeros(ridx.size, dtype=bool)]
    when = np.r_[granted_at, revoked_at]
    # Cookie banners record analytics/advertising; marketing consents come from forms.
    src = np.where(
        purpose >= 2,
        np.where(rng.random(n) < 0.7, 2, 0),
        rng.choice([0, 1, 3], size=n, p=[0.5, 0.4, 0.1]),
    )
    uo = user_ord[idx]
    has_user = uo >= 0
    show_user = has_user & ((src == 2) | (rng.random(n) < 0.6))
    cols = _base(ctx, idx, when, when, "consent_events")
    cols |= mess.email_cols(rng, n, "form")
    # A logged-in cookie banner knows the user id, not the email.
    cols["e_code"] = np.where(show_user & (src == 2), 10, cols["e_code"]).astype(np.int8)
    cols |= {
        "user_ord": pa.array(uo, mask=~show_user),
        "purpose": purpose.astype(np.int8),
        "granted": granted,
        "b_fmt": mess.bools(rng, n),
        "src": src.astype(np.int8),
        "ts1": mess.ts_fmt(rng, n),
    }
    t = pa.table(cols)
    t = set_col(t, "loaded_ms", ctx.loaded(when))
    facts = versions(ctx, t, 0.0, 0.0)
    exprs = {
        "consent_id": pk_col("consent_events"),
        "email": EMAIL_SQL,
        "user_id": "'U-' || CAST(1001 + user_ord AS VARCHAR)",
        "purpose": f"list_element({mess.sql_list(vocab.CONSENT_PURPOSES)}, purpose + 1)",
        "granted": "cdp_bool(granted, b_fmt)",
        "recorded_at": ts("created_ms", "ts1"),
        "source": f"list_element({mess.sql_list(vocab.CONSENT_SOURCES)}, src + 1)",
    }
    ctx.emit("consent_events", facts, exprs, pk_sql("consent_events"), t0)


# ---------------------------------------------------------------- deletion_requests


def deletion_requests(ctx: Ctx) -> None:
    t0 = time.perf_counter()
    P, rng = ctx.people, ctx.rng
    user_ord: np.ndarray = ctx.shared["app"]["user_ord"]
    idx = np.flatnonzero(P.deletion)
    n = idx.size
    when = ctx.uniform_ms(np.full(n, ctx.now_ms - 180 * DAY_MS), np.full(n, ctx.now_ms))
    uo = user_ord[idx]
    # Requests identify the person by email, user id or phone (whatever they gave).
    by = rng.choice(3, size=n, p=[0.6, 0.25, 0.15])
    by = np.where((by == 1) & (uo < 0), 0, by)
    by = np.where((by == 2) & ~P.has_phone[idx], 0, by)
    cols = _base(ctx, idx, when, when, "deletion_requests")
    cols |= mess.email_cols(rng, n, "form")
    cols["e_code"] = np.where(by == 0, np.minimum(cols["e_code"], 5), 10).astype(np.int8)
    also_email = (by == 1) & (rng.random(n) < 0.3)
    cols["e_code"] = np.where(also_email, 0, cols["e_code"]).astype(np.int8)
    cols |= mess.phone_cols(rng, n, by == 2, 0.0, 0.0)
    done = (when < ctx.now_ms - 30 * DAY_MS) | (rng.random(n) < 0.5)
    cols |= {
        "user_ord": pa.array(uo, mask=by != 1),
        "done": done,
        "ts1": mess.ts_fmt(rng, n),
    }
    t = pa.table(cols)
    t = set_col(t, "loaded_ms", ctx.loaded(when))
    facts = versions(ctx, t, 0.0, 0.0)
    exprs = {
        "request_id": pk_col("deletion_requests"),
        "email": EMAIL_SQL,
        "user_id": "'U-' || CAST(1001 + user_ord AS VARCHAR)",
        "phone": PHONE_SQL,
        "requested_at": ts("created_ms", "ts1"),
        "status": "CASE WHEN done THEN 'completed' ELSE 'pending' END",
    }
    ctx.emit("deletion_requests", facts, exprs, pk_sql("deletion_requests"), t0)
