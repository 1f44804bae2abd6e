"""Chunked generation: people are drawn and rendered a chunk at a time, so memory is
bounded by the chunk and 10M people take the same memory as 100k."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from . import commerce, mess, sources, web
from .config import GenConfig
from .contract import GROUND_TRUTH, TABLES
from .people import build_vocab, make_people
from .writers import Target

# Order matters only for what each builder reads from ctx.shared; ids per table are
# independent counters.
BUILDERS = (
    sources.crm_contacts,
    sources.shop_customers,
    commerce.shop_orders,
    sources.app_users,
    web.web_events,
    sources.newsletter_signups,
    sources.support_tickets,
    sources.consent_events,
    sources.deletion_requests,
)


def generate(cfg: GenConfig, fmt: str, out: Path, log: TextIO = sys.stderr) -> sources.Stats:
    started = time.perf_counter()
    voc = build_vocab()
    target = Target(fmt, out)
    con = target.open()
    stats = sources.Stats()
    counters: dict[str, int] = {}
    country_rank = np.zeros(5, dtype=np.int64)
    n_chunks = max(1, -(-cfg.people // cfg.chunk_people))
    people_s = 0.0
    try:
        mess.install(con)
        for ci in range(n_chunks):
            lo, hi = ci * cfg.chunk_people, min(cfg.people, (ci + 1) * cfg.chunk_people)
            t0 = time.perf_counter()
            # One stream per chunk: the output depends on the arguments only.
            rng = np.random.default_rng([cfg.seed, ci])
            people = make_people(con, cfg, voc, rng, lo, hi, country_rank)
            ctx = sources.Ctx(
                con=con,
                cfg=cfg,
                voc=voc,
                rng=rng,
                people=people,
                counters=counters,
                stats=stats,
                schema=target.schema,
            )
            sources.plan_app_users(ctx)
            commerce.plan_orders(ctx)
            people_s += time.perf_counter() - t0
            for build in BUILDERS:
                build(ctx)
            if n_chunks > 1:
                print(
                    f"chunk {ci + 1}/{n_chunks}: people {hi:,} ({time.perf_counter() - started:.1f}s)",
                    file=log,
                    flush=True,
                )
        print(f"{'people':<20} {cfg.people:>12,} rows {people_s:8.2f}s", file=log)
        for t in TABLES:
            print(
                f"{t:<20} {stats.rows.get(t, 0):>12,} rows {stats.seconds.get(t, 0.0):8.2f}s",
                file=log,
            )
        (gt_rows,) = con.execute(f"SELECT count(*) FROM {target.schema}.{GROUND_TRUTH}").fetchone()
        stats.rows[GROUND_TRUTH] = int(gt_rows)
        print(f"{GROUND_TRUTH:<20} {gt_rows:>12,} rows", file=log)
    except BaseException:
        target.finish(con)
        raise
    t0 = time.perf_counter()
    target.finish(con)
    print(
        f"write {fmt} -> {out} {time.perf_counter() - t0:.2f}s; total {time.perf_counter() - started:.2f}s",
        file=log,
        flush=True,
    )
    return stats
