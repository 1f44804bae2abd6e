"""Web events in the Segment spec: anonymous browsing that later identifies, commerce
tracking tied to real orders, and at-least-once delivery (repeated message ids)."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from . import mess, vocab
from .sources import DAY_MS, HOUR_MS, MINUTE_MS, Ctx, set_col

PAGE, VIEWED, ADDED, CHECKOUT, COMPLETED, IDENTIFY = range(6)
EVENT_NAMES = ("", "Product Viewed", "Product Added", "Checkout Started", "Order Completed", "")
HOME, COLLECTION, PRODUCT, CART, ACCOUNT, BLOG = range(6)
BLOG_SLUGS = (
    "fall-lookbook",
    "how-to-care-for-leather",
    "denim-fit-guide",
    "sustainable-wool",
    "gift-guide",
)
BLOG_TITLES = (
    "Fall Lookbook",
    "How to care for leather",
    "Denim fit guide",
    "Why we use recycled wool",
    "Gift guide",
)
SITE = "https://shop.example.com"


class _Events:
    """Column buffers for events, filled per kind and concatenated once."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        person: np.ndarray,
        t: np.ndarray,
        dev: np.ndarray,
        kind: int | np.ndarray,
        **extra: np.ndarray,
    ) -> None:
        n = person.size
        cols = {
            "p": person.astype(np.int64),
            "t": t.astype(np.int64),
            "dev": dev.astype(np.int8),
            "kind": np.broadcast_to(np.asarray(kind, dtype=np.int8), (n,)).copy(),
            "page": np.full(n, -1, dtype=np.int8),
            "sku": np.full(n, -1, dtype=np.int64),
            "order": np.full(n, -1, dtype=np.int64),
            "server": np.zeros(n, dtype=bool),
        }
        for k, v in extra.items():
            cols[k] = np.asarray(v).astype(cols[k].dtype)
        self.parts.append(cols)

    def concat(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}


def _sku_in(rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
    return cat * vocab.SKUS_PER_CATEGORY + rng.integers(0, vocab.SKUS_PER_CATEGORY, cat.size)


def web_events(ctx: Ctx) -> None:
    t0 = time.perf_counter()
    P, rng, now, cfg = ctx.people, ctx.rng, ctx.now_ms, ctx.cfg
    app = ctx.shared["app"]
    orders = ctx.shared["orders"]
    user_ord: np.ndarray = app["user_ord"]
    n_dev = np.where(P.web, rng.choice([1, 2, 3], size=P.n, p=[0.7, 0.22, 0.08]), 0)
    start, end = P.start * 1000, P.end * 1000
    ev = _Events()

    # Logins: device 0 identifies at signup, other devices at a later login. After that
    # moment every event from the device carries the user id (as analytics.js does).
    inf = np.iinfo(np.int64).max
    login = np.full((P.n, 3), inf, dtype=np.int64)
    is_user = P.web & (user_ord >= 0)
    login[is_user, 0] = app["user_signup_ms"][is_user]
    for d in (1, 2):
        m = is_user & (n_dev > d)
        login[m, d] = ctx.uniform_ms(login[m, 0], end[m])
    ui, ud = np.nonzero(login != inf)
    ev.add(ui, login[ui, ud], ud, IDENTIFY, page=np.full(ui.size, ACCOUNT))
    # Visitors without an account identify by email (newsletter form, checkout).
    known = P.shop | P.crm | P.newsletter | P.guest | P.support
    anon_ident = np.flatnonzero(P.web & ~is_user & known & (rng.random(P.n) < 0.4))
    ev.add(
        anon_ident,
        ctx.uniform_ms(start[anon_ident], end[anon_ident]),
        np.zeros(anon_ident.size),
        IDENTIFY,
        page=np.full(anon_ident.size, HOME),
    )

    # Orders placed by web visitors: Checkout Started then Order Completed. A third of
    # completions for logged-in users come from the server: user id, no anonymous id.
    ow = np.flatnonzero(P.web[orders["idx"]])
    op = orders["idx"][ow]
    ot = orders["created_ms"][ow]
    odev = np.zeros(ow.size)
    ev.add(
        op,
        ot - ctx.uniform_ms(np.full(ow.size, MINUTE_MS), np.full(ow.size, 10 * MINUTE_MS)),
        odev,
        CHECKOUT,
        order=ow,
        page=np.full(ow.size, CART),
    )
    server = (user_ord[op] >= 0) & (login[op, 0] <= ot) & (rng.random(ow.size) < 0.33)
    ev.add(op, ot, odev, COMPLETED, order=ow, server=server, page=np.full(ow.size, CART))

    # Cart abandoners: viewed and added a product in the last 24 hours, no order since.
    ab = np.flatnonzero(P.abandon)
    t_add = now - ctx.uniform_ms(np.full(ab.size, HOUR_MS), np.full(ab.size, 23 * HOUR_MS))
    sku = _sku_in(rng, P.fav_cat[ab])
    ev.add(
        ab,
        t_add - 3 * MINUTE_MS,
        np.zeros(ab.size),
        VIEWED,
        sku=sku,
        page=np.full(ab.size, PRODUCT),
    )
    ev.add(ab, t_add, np.zeros(ab.size), ADDED, sku=sku, page=np.full(ab.size, PRODUCT))
    # High-intent browsers: 4-7 views in one category within the last week, no purchase.
    it = np.flatnonzero(P.intent)
    k = rng.integers(4, 8, it.size)
    ip_ = np.repeat(it, k)
    ev.add(
        ip_,
        now - (rng.random(ip_.size) * 6.5 * DAY_MS).astype(np.int64),
        np.zeros(ip_.size),
        VIEWED,
        sku=_sku_in(rng, P.fav_cat[ip_]),
        page=np.full(ip_.size, PRODUCT),
    )

    # Ordinary browsing fills the rest of the event budget: sessions of a few events,
    # per-person counts heavy-tailed (lognormal), so a few people generate most traffic.
    w_idx = np.flatnonzero(P.web)
    extras = sum(p["p"].size for p in ev.parts)
    budget = max(int(round(cfg.events_per_person * P.n)) - extras, w_idx.size)
    w = rng.lognormal(0.0, 1.0, w_idx.size)
    e = np.maximum(1, np.round(w / w.sum() * budget)).astype(np.int64)
    s = np.maximum(1, np.round(e / (2.5 + 3.5 * rng.random(w_idx.size)))).astype(np.int64)
    ses_p = np.repeat(w_idx, s)
    ses_start = ctx.uniform_ms(start[ses_p], end[ses_p])
    ses_dev = (rng.random(ses_p.size) * n_dev[ses_p]).astype(np.int64)
    ses_gap = ctx.uniform_ms(np.full(ses_p.size, 15_000), np.full(ses_p.size, 120_000))
    ses_first = np.r_[0, np.cumsum(s)[:-1]]
    ev_ses = np.repeat(ses_first, e) + (rng.random(int(e.sum())) * np.repeat(s, e)).astype(np.int64)
    ev_ses.sort()
    run_start = np.r_[True, ev_ses[1:] != ev_ses[:-1]]
    first_pos = np.maximum.accumulate(np.where(run_start, np.arange(ev_ses.size), 0))
    rank = np.arange(ev_ses.size) - first_pos
    m = ev_ses.size
    bt = ses_start[ev_ses] + rank * ses_gap[ev_ses] + rng.integers(0, 5000, m)
    bp = ses_p[ev_ses]
    kind = np.where(
        rank == 0,
        PAGE,
        rng.choice([PAGE, VIEWED, ADDED, CHECKOUT], size=m, p=[0.45, 0.38, 0.13, 0.04]),
    )
    page = np.where(
        rank == 0,
        rng.choice([HOME, COLLECTION, PRODUCT, BLOG], size=m, p=[0.4, 0.3, 0.2, 0.1]),
        rng.choice(
            [HOME, COLLECTION, PRODUCT, CART, ACCOUNT, BLOG],
            size=m,
            p=[0.15, 0.25, 0.4, 0.1, 0.05, 0.05],
        ),
    )
    page = np.where(kind == PAGE, page, np.where(kind == CHECKOUT, CART, PRODUCT))
    cat = np.where(rng.random(m) < 0.55, P.fav_cat[bp], rng.integers(0, len(vocab.CATEGORIES), m))
    ev.add(bp, bt, ses_dev[ev_ses], kind, page=page, sku=_sku_in(rng, cat))

    E = ev.concat()
    E["t"] = np.minimum(E["t"], now - 1000)
    order = np.argsort(E["t"], kind="stable")
    E = {c: v[order] for c, v in E.items()}
    n = E["t"].size
    p, dev = E["p"], E["dev"].astype(np.int64)
    uo = user_ord[p]
    has_user = (uo >= 0) & (E["t"] >= login[p, dev])

    received = E["t"] + rng.integers(50, 3000, n)
    late = rng.random(n) < 0.01  # mobile clients flushing a queue hours later
    received = np.minimum(received + np.where(late, rng.integers(HOUR_MS, 3 * DAY_MS, n), 0), now)
    cur = np.array([["USD", "GBP", "EUR"].index(vocab.CURRENCY[c]) for c in vocab.COUNTRIES])
    pcur = cur[P.country[p]]
    cat_ = ctx.voc.catalog
    prices = np.stack([cat_["price_usd"], cat_["price_gbp"], cat_["price_eur"]])
    sku_i = E["sku"]
    has_sku = (sku_i >= 0) & (
        (E["kind"] == VIEWED) | (E["kind"] == ADDED) | (E["kind"] == CHECKOUT) | (E["page"] == PRODUCT)
    )
    sku_safe = np.where(has_sku, sku_i, 0)
    oi = E["order"]
    has_order = oi >= 0
    oi_safe = np.where(has_order, oi, 0)
    has_orders = orders["ord"].size > 0
    o_total = orders["total"][oi_safe] if has_orders else np.zeros(n, np.int64)
    o_ord = orders["ord"][oi_safe] if has_orders else np.zeros(n, np.int64)
    o_cur = orders["cur"][oi_safe] if has_orders else np.zeros(n, np.int64)
    devices = _devices(ctx)
    dev_row = pa.array(p * 3 + dev)
    is_ident = E["kind"] == IDENTIFY
    facts = {
        "t": E["t"],
        "recv": received,
        "kind": E["kind"],
        "page": E["page"],
        "server": E["server"] & has_user,
        "user_ord": pa.array(uo, mask=~has_user),
        "sku": pa.array(cat_["sku"]).take(pa.array(sku_safe)).to_numpy(zero_copy_only=False),
        "pname": pa.array(cat_["name"]).take(pa.array(sku_safe)).to_numpy(zero_copy_only=False),
        "cat": cat_["category"][sku_safe].astype(np.int8),
        "price": prices[pcur, sku_safe],
        "order_ord": pa.array(o_ord, mask=~has_order),
        "order_total": o_total,
        "order_cur": np.where(has_order, o_cur, pcur).astype(np.int8),
        "blog": rng.integers(0, len(BLOG_SLUGS), n).astype(np.int8),
        "message_id": mess.uuid_strings(rng, n),
        "anon": devices.column("anon").take(dev_row),
        "ctx_prefix": devices.column("ctx_prefix").take(dev_row),
        "full_traits": is_ident & (uo >= 0),
        "ts1": mess.ts_fmt(rng, n, "events"),
        "off": ctx.offsets(p),
        **ctx.person(p, ("person_id", "email", "domain_typo", "first_name", "last_name", "nick")),
        **mess.email_cols(rng, n, "form"),
        **mess.name_cols(rng, n, "nf"),
    }
    facts["e_code"] = np.where(facts["e_code"] == 10, 0, facts["e_code"]).astype(np.int8)
    facts["nf_code"] = np.where(facts["nf_code"] == 5, 0, facts["nf_code"]).astype(np.int8)
    t = pa.table(facts)
    loaded = np.minimum(received + rng.integers(MINUTE_MS, 60 * MINUTE_MS, n), now)
    t = set_col(t, "loaded_ms", loaded)
    t = set_col(t, "gt", np.ones(n, dtype=bool))
    t = set_col(t, "pk_null", np.zeros(n, dtype=bool))
    parts = [t]
    # At-least-once delivery: the same message again in a later batch.
    # (Only for rows loaded before `now`, so the repeat is strictly later.)
    d = np.flatnonzero((rng.random(n) < 0.005) & (loaded < now))
    if d.size:
        dup = t.take(pa.array(d))
        later = dup.column("loaded_ms").to_numpy() + rng.integers(MINUTE_MS, 6 * HOUR_MS, d.size)
        dup = set_col(dup, "loaded_ms", np.minimum(later, now))
        parts.append(set_col(dup, "gt", np.zeros(d.size, dtype=bool)))
    j = np.flatnonzero(rng.random(n) < 0.0005)
    if j.size:
        junk = set_col(t.take(pa.array(j)), "pk_null", np.ones(j.size, dtype=bool))
        parts.append(set_col(junk, "gt", np.zeros(j.size, dtype=bool)))
    facts_t = pa.concat_tables(parts)
    ctx.emit("web_events", facts_t, _exprs(), "message_id", t0)


def _devices(ctx: Ctx) -> pa.Table:
    """Per (person, device): a stable anonymous id and the context JSON prefix (ip and
    user agent), computed once per device instead of once per event."""
    rng, n = ctx.rng, ctx.people.n * 3
    t = pa.table(
        {
            "ip": rng.integers(0, 2**32, n, dtype=np.int64),
            "ua": rng.integers(0, len(vocab.USER_AGENTS), n).astype(np.int8),
        }
    )
    ctx.con.register("devices", t)
    try:
        out = ctx.con.sql(
            'SELECT \'{"ip":"\' || cdp_ip(ip) || \'","userAgent":\' || '
            f"to_json(list_element({_l(vocab.USER_AGENTS)}, ua + 1))::VARCHAR || "
            '\',"page":{"url":"\' AS ctx_prefix FROM devices'
        ).to_arrow_table()
    finally:
        ctx.con.unregister("devices")
    return pa.table(
        {"anon": mess.uuid_strings(rng, n), "ctx_prefix": out.column("ctx_prefix").combine_chunks()}
    )


def _l(values: tuple[str, ...] | list[str]) -> str:
    return mess.sql_list(list(values))


def _exprs() -> dict[str, str]:
    cats = _l(vocab.CATEGORIES)
    cat_titles = _l(tuple(c.capitalize() for c in vocab.CATEGORIES))
    path = (
        f"CASE page WHEN {HOME} THEN '/' "
        f"WHEN {COLLECTION} THEN '/collections/' || list_element({cats}, cat + 1) "
        f"WHEN {PRODUCT} THEN '/products/' || lower(sku) "
        f"WHEN {CART} THEN CASE kind WHEN {COMPLETED} THEN '/checkout/thank-you' "
        f"  WHEN {CHECKOUT} THEN '/checkout' ELSE '/cart' END "
        f"WHEN {ACCOUNT} THEN '/account' "
        f"ELSE '/blog/' || list_element({_l(BLOG_SLUGS)}, blog + 1) END"
    )
    title = (
        f"CASE page WHEN {HOME} THEN 'Home' "
        f"WHEN {COLLECTION} THEN list_element({cat_titles}, cat + 1) "
        f"WHEN {PRODUCT} THEN pname WHEN {CART} THEN 'Your cart' "
        f"WHEN {ACCOUNT} THEN 'My account' "
        f"ELSE list_element({_l(BLOG_TITLES)}, blog + 1) END"
    )
    url = f"'{SITE}' || {path}"
    cur = "list_element(['USD', 'GBP', 'EUR'], order_cur + 1)"
    props = (
        f"CASE kind "
        f'WHEN {PAGE} THEN \'{{"url":"\' || {url} || \'","path":"\' || {path} || '
        f'\'","title":"\' || {title} || \'"\' || '
        f'CASE WHEN page IN ({COLLECTION}, {PRODUCT}) THEN \',"category":"\' || '
        f"list_element({cats}, cat + 1) || '\"' ELSE '' END || '}}' "
        f'WHEN {VIEWED} THEN \'{{"sku":"\' || sku || \'","category":"\' || '
        f"list_element({cats}, cat + 1) || '\",\"price\":' || cdp_money(price) || '}}' "
        f'WHEN {ADDED} THEN \'{{"sku":"\' || sku || \'","category":"\' || '
        f'list_element({cats}, cat + 1) || \'","price":\' || cdp_money(price) || '
        f"',\"quantity\":1}}' "
        f"WHEN {CHECKOUT} THEN CASE WHEN order_ord IS NULL "
        f"  THEN '{{\"value\":' || cdp_money(price) || ',\"currency\":\"' || {cur} || '\"}}' "
        f'  ELSE \'{{"order_id":"O-\' || CAST(1001 + order_ord AS VARCHAR) || \'","value":\' '
        f"  || cdp_money(order_total) || ',\"currency\":\"' || {cur} || '\"}}' END "
        f'WHEN {COMPLETED} THEN \'{{"order_id":"O-\' || CAST(1001 + order_ord AS VARCHAR) || '
        f'\'","total":\' || cdp_money(order_total) || \',"currency":"\' || {cur} || \'"}}\' '
        f"END"
    )
    email = "cdp_email(email, e_code, e_u, e_c, e_k, domain_typo)"
    first = "cdp_name(first_name, nick, nf_code, nf_u, nf_c, nf_k)"
    traits = (
        f"CASE WHEN kind = {IDENTIFY} THEN '{{\"email\":' || cdp_json_str({email}) || "
        f"CASE WHEN full_traits THEN ',\"first_name\":' || cdp_json_str({first}) || "
        f"',\"last_name\":' || cdp_json_str(last_name) ELSE '' END || '}}' END"
    )
    context = (
        "CASE WHEN server THEN "
        '\'{"library":{"name":"analytics-python","version":"2.3.1"}}\' '
        f"ELSE ctx_prefix || {url} || '\"}}}}' END"
    )
    return {
        "message_id": "CASE WHEN pk_null THEN NULL ELSE message_id END",
        "type": f"CASE kind WHEN {PAGE} THEN 'page' WHEN {IDENTIFY} THEN 'identify' ELSE 'track' END",
        "event": f"CASE WHEN kind IN ({PAGE}, {IDENTIFY}) THEN NULL ELSE "
        f"list_element({_l(EVENT_NAMES)}, kind + 1) END",
        "anonymous_id": "CASE WHEN server THEN NULL ELSE anon END",
        "user_id": "'U-' || CAST(1001 + user_ord AS VARCHAR)",
        "traits": traits,
        "properties": f"CASE WHEN kind = {IDENTIFY} THEN NULL ELSE {props} END",
        "context": context,
        "timestamp": "cdp_ts(t, ts1, off)",
        "received_at": "cdp_ts(recv, 4, 0)",
    }
