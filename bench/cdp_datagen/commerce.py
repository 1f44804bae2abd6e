"""Orders and shop customers: the commerce story audiences are built on.

Stories guaranteed relative to `now`: VIPs with many pricier orders (high lifetime value),
lapsed customers (nothing in the last 90 days), abandoners and high-intent browsers with no
order after their recent activity (see people.order_cap), guest checkouts by email only.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import mess, vocab
from .sources import DAY_MS, MINUTE_MS, Ctx, pk_col, pk_sql, set_col, ts, versions

STATUSES = ("paid", "refunded", "cancelled", "pending")
CURRENCIES = ("USD", "GBP", "EUR")
_COUNTRY_CURRENCY = np.array([CURRENCIES.index(vocab.CURRENCY[c]) for c in vocab.COUNTRIES])


def plan_orders(ctx: Ctx) -> None:
    """Draw every order of the chunk and the shop customer records they imply."""
    P, rng, now = ctx.people, ctx.rng, ctx.now_ms
    n_orders = np.zeros(P.n, dtype=np.int64)
    reg = P.shop
    n_orders[reg] = np.where(
        rng.random(int(reg.sum())) < 0.10, 0, 1 + rng.negative_binomial(1, 0.45, int(reg.sum()))
    )
    g = P.guest & ~P.shop
    n_orders[g] = 1 + (rng.random(int(g.sum())) < 0.3)
    n_orders[P.vip] = 8 + rng.poisson(10, int(P.vip.sum()))
    oidx = np.repeat(np.arange(P.n), n_orders)
    k = oidx.size
    lo = P.start[oidx] * 1000
    hi = np.minimum(P.end[oidx], P.order_cap[oidx]) * 1000
    lo = np.where(lo >= hi, hi - 30 * DAY_MS, lo)
    created = ctx.uniform_ms(lo, hi)
    guest = ~P.shop[oidx] | (rng.random(k) < 0.05)
    cur = _COUNTRY_CURRENCY[P.country[oidx]]
    cur = np.where(rng.random(k) < 0.03, rng.integers(0, 3, k), cur)

    # Line items: 1-4 (VIPs buy more), mostly from the person's favourite category.
    cat_ = ctx.voc.catalog
    n_items = 1 + rng.choice(4, size=k, p=[0.55, 0.27, 0.12, 0.06]) + P.vip[oidx]
    iord = np.repeat(np.arange(k), n_items)
    m = iord.size
    iperson = oidx[iord]
    cat = np.where(rng.random(m) < 0.5, P.fav_cat[iperson], rng.integers(0, len(vocab.CATEGORIES), m))
    sku = cat * vocab.SKUS_PER_CATEGORY + rng.integers(0, vocab.SKUS_PER_CATEGORY, m)
    qty = rng.choice([1, 2, 3], size=m, p=[0.8, 0.15, 0.05])
    prices = np.stack([cat_["price_usd"], cat_["price_gbp"], cat_["price_eur"]])
    price = prices[cur[iord], sku]
    starts = np.r_[0, np.cumsum(n_items)[:-1]]
    total = np.add.reduceat(qty * price, starts) if k else np.zeros(0, dtype=np.int64)

    status = rng.choice(4, size=k, p=[0.84, 0.06, 0.05, 0.05])
    status = np.where((status == 3) & (created < now - 7 * DAY_MS), 0, status)
    delay_lo = np.array([1, 3 * 1440, 10, 0])[status] * MINUTE_MS
    delay_hi = np.array([2 * 1440, 30 * 1440, 2 * 1440, 10])[status] * MINUTE_MS
    upd = np.minimum(created + ctx.uniform_ms(delay_lo, delay_hi), now - MINUTE_MS)
    upd = np.maximum(upd, created)
    ord_ = ctx.ids("shop_orders", created)

    # Registered customers: account created just before their first non-guest order.
    cust_idx = np.flatnonzero(P.shop)
    first = np.full(P.n, np.iinfo(np.int64).max, dtype=np.int64)
    reg_orders = ~guest
    np.minimum.at(first, oidx[reg_orders], created[reg_orders])
    c_created = first[cust_idx]
    no_order = c_created == np.iinfo(np.int64).max
    c_created = np.where(
        no_order,
        ctx.uniform_ms(P.start[cust_idx] * 1000, P.end[cust_idx] * 1000),
        c_created - (rng.random(cust_idx.size) * 30 * MINUTE_MS).astype(np.int64),
    )
    c_ord = ctx.ids("shop_customers", c_created)
    cust_of_person = np.full(P.n, -1, dtype=np.int64)
    cust_of_person[cust_idx] = c_ord
    last_order = np.full(P.n, -1, dtype=np.int64)
    last_at = np.full(P.n, -1, dtype=np.int64)
    sort = np.argsort(created, kind="stable")
    last_order[oidx[sort]] = ord_[sort]
    last_at[oidx[sort]] = created[sort]

    ctx.shared["customers"] = {"idx": cust_idx, "created_ms": c_created, "ord": c_ord}
    ctx.shared["last_order_ord"] = last_order
    ctx.shared["orders"] = {
        "idx": oidx,
        "created_ms": created,
        "upd_ms": upd,
        "ord": ord_,
        "guest": guest,
        "cur": cur,
        "total": total,
        "status": status,
        "cust_ord": cust_of_person[oidx],
        "n_items": n_items,
        "item_sku": sku,
        "item_qty": qty,
        "item_price": price,
        "item_cat": cat,
    }


def _line_items(ctx: Ctx, o: dict) -> pa.Array:
    """JSON arrays of {sku, category, quantity, price}, rendered per item in DuckDB and
    joined per order with Arrow list kernels (no Python loop)."""
    cat_ = ctx.voc.catalog
    items = pa.table(
        {
            "sku": pa.array(cat_["sku"]).take(pa.array(o["item_sku"])),
            "cat": pa.array(np.array(vocab.CATEGORIES, dtype=object)[o["item_cat"]].tolist()),
            "qty": o["item_qty"],
            "price": o["item_price"],
        }
    )
    ctx.con.register("items", items)
    try:
        js = (
            ctx.con.sql(
                'SELECT \'{"sku":"\' || sku || \'","category":"\' || cat || \'","quantity":\' '
                "|| CAST(qty AS VARCHAR) || ',\"price\":' || cdp_money(price) || '}' AS j "
                "FROM items"
            )
            .to_arrow_table()
            .column("j")
            .combine_chunks()
        )
    finally:
        ctx.con.unregister("items")
    offsets = pa.array(np.r_[0, np.cumsum(o["n_items"])].astype(np.int32))
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, js), ",")
    return pc.binary_join_element_wise("[", joined, "]", "")


def shop_orders(ctx: Ctx) -> None:
    t0 = time.perf_counter()
    rng = ctx.rng
    o = ctx.shared["orders"]
    idx: np.ndarray = o["idx"]
    n = idx.size
    cols = {
        "ord": o["ord"],
        "created_ms": o["created_ms"],
        "upd_ms": o["upd_ms"],
        "off": ctx.offsets(idx),
        **ctx.person(idx, ("person_id", "email", "domain_typo")),
        "cust_ord": pa.array(o["cust_ord"], mask=o["guest"]),
        "total": o["total"],
        "cur": o["cur"].astype(np.int8),
        "status": o["status"].astype(np.int8),
        "line_items": _line_items(ctx, o),
        "ts1": mess.ts_fmt(rng, n),
        "ts2": mess.ts_fmt(rng, n),
    }
    cols |= mess.email_cols(rng, n, "form")
    # A guest checkout is only known by its email, so the shop requires one.
    cols["e_code"] = np.where(o["guest"] & (cols["e_code"] == 10), 0, cols["e_code"])
    facts = versions(ctx, pa.table(cols), 0.04, 0.002, _stale_order)
    exprs = {
        "order_id": pk_col("shop_orders"),
        "customer_id": "'S-' || CAST(1001 + cust_ord AS VARCHAR)",
        "email": "cdp_email(email, e_code, e_u, e_c, e_k, domain_typo)",
        "total_price": "cdp_money(total)",
        "currency": f"list_element({_list(CURRENCIES)}, cur + 1)",
        "status": f"list_element({_list(STATUSES)}, status + 1)",
        "line_items": "line_items",
        "created_at": ts("created_ms", "ts1"),
        "updated_at": ts("upd_ms", "ts2"),
    }
    ctx.emit("shop_orders", facts, exprs, pk_sql("shop_orders"), t0)


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _stale_order(old: pa.Table) -> pa.Table:
    """The earlier load saw the order before it settled: pending, or paid before a refund."""
    st = old.column("status").to_numpy()
    return set_col(old, "status", np.where(st == 1, 0, 3).astype(np.int8))
