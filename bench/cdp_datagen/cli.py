"""`cdp-datagen` / `python -m cdp_datagen`: synthetic raw CDP data with ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import DEFAULT_NOW, GenConfig, parse_now
from .generate import generate
from .writers import FORMATS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cdp-datagen",
        description="Generate messy raw CDP source tables plus demo_ground_truth.",
    )
    p.add_argument("--people", type=int, default=1000, help="true persons (default 1000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--now", default=DEFAULT_NOW, help=f"clock anchor, ISO-8601 (default {DEFAULT_NOW})")
    p.add_argument("--format", choices=FORMATS, default="duckdb", dest="fmt")
    p.add_argument("--out", type=Path, required=True, help="directory (csv, parquet) or DuckDB file (duckdb)")
    p.add_argument(
        "--events-per-person",
        type=float,
        default=10.0,
        help="average web events per person, all persons counted (default 10)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.people < 1:
        raise SystemExit("--people must be at least 1")
    cfg = GenConfig(
        people=args.people,
        seed=args.seed,
        now_s=parse_now(args.now),
        events_per_person=args.events_per_person,
    )
    generate(cfg, args.fmt, args.out)
    return 0
