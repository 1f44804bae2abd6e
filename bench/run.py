"""`make bench SCALE=100000` / `python -m bench.run --scale 100000`.

Generates ``--scale`` people (~10 web events each) into
``warehouse/bench_<scale>.duckdb``, holds back 1 % as the later delta, then
measures every stage as its own process (wall time, peak RSS) and prints the
tables: staging, identity, traits and audiences, the standalone Splink baseline
on the same records, the full ``dbt build``, the sync diff and push of a
``scale``-row audience to a loopback webhook, the incremental run after the 1 %
delta lands (checked against a full rebuild), and the freshness of a cart event.
Results: ``bench/results/bench_<scale>.{json,csv,md}`` and
``bench/results/bench_cost_vs_scale.png``. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.measure import Measurement, loadavg
from bench.stages import DEFAULT_NOW, IDENTITY, PROJECT_DIR, REFERENCE_SEEDS, STAGING, Bench, BenchConfig


def _now(text: str) -> datetime:
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=int, default=10_000, help="people to generate (default 10000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--now",
        default=DEFAULT_NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        help="the generator's clock; every build pins cdp_run_at to it",
    )
    p.add_argument("--events-per-person", type=float, default=10.0)
    p.add_argument(
        "--delta-fraction",
        type=float,
        default=0.01,
        help="share of people held back, and of records changed, for the delta",
    )
    p.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    p.add_argument("--warehouse-dir", type=Path, default=None, help="default <project>/warehouse")
    p.add_argument("--results-dir", type=Path, default=None, help="default <project>/bench/results")
    p.add_argument(
        "--stage-timeout", type=float, default=4 * 3600, help="seconds before a stage is killed (default 4 h)"
    )
    p.add_argument(
        "--max-rss-mb",
        type=float,
        default=None,
        help="kill a stage whose resident set passes this many MiB (guard on a shared machine)",
    )
    p.add_argument(
        "--min-free-disk-gb",
        type=float,
        default=10.0,
        help="kill a stage when the disk DuckDB spills to has less free space than this (default 10)",
    )
    p.add_argument(
        "--duckdb-memory-limit",
        default=None,
        help="DuckDB memory_limit for every dbt command and the baseline, e.g. 8GB (a private "
        "profiles.yml in the results dir; default: DuckDB's, 80%% of RAM)",
    )
    p.add_argument(
        "--no-staged",
        action="store_true",
        help="skip the per-stage builds (staging, identity, traits); full build only",
    )
    p.add_argument("--no-train-baseline", action="store_true", help="skip the train+predict baseline")
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the full rebuild that checks the incremental run's clusters",
    )
    p.add_argument(
        "--push-full",
        choices=("auto", "yes", "no"),
        default="auto",
        help="push the whole audience once (auto: up to 200k rows), else seed the "
        "sync state in SQL and push only the 1%% change",
    )
    p.add_argument("--no-dbt-tests", action="store_true", help="dbt build without its data and unit tests")
    p.add_argument("--no-freshness", action="store_true", help="skip the freshness measurement")
    p.add_argument(
        "--freshness-selector",
        default="events_hot_path",
        help="the dbt selector (selectors.yml) the freshness build runs; '' for the whole incremental build",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: --no-staged --no-train-baseline --no-dbt-tests --no-verify --no-freshness, "
        "builds of staging and identity only, all at the same pinned clock, no parse before measured "
        "dbt commands",
    )
    p.add_argument(
        "--only",
        default=",".join(GROUPS),
        help="comma-separated stage groups to run on an existing bench warehouse, e.g. "
        "'baseline,sync' (groups: " + ", ".join(GROUPS) + "); the result file keeps the other "
        "stages of the earlier run",
    )
    p.add_argument("--clean", action="store_true", help="delete the bench DuckDB files at the end")
    p.add_argument("--plot-only", action="store_true", help="redraw the PNG from existing results")
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> BenchConfig:
    project = args.project_dir.resolve()
    if args.quick:
        args.no_staged = args.no_train_baseline = args.no_dbt_tests = True
        args.no_verify = args.no_freshness = True
    push_full = args.push_full == "yes" or (args.push_full == "auto" and args.scale <= 200_000)
    return BenchConfig(
        scale=args.scale,
        seed=args.seed,
        now=_now(args.now),
        events_per_person=args.events_per_person,
        delta_fraction=args.delta_fraction,
        project_dir=project,
        warehouse_dir=(args.warehouse_dir or project / "warehouse").resolve(),
        results_dir=(args.results_dir or project / "bench" / "results").resolve(),
        stage_timeout=args.stage_timeout,
        max_rss_mb=args.max_rss_mb,
        duckdb_memory_limit=args.duckdb_memory_limit,
        min_free_disk_gb=args.min_free_disk_gb or None,
        verify_incremental=not args.no_verify,
        train_baseline=not args.no_train_baseline,
        staged_builds=not args.no_staged,
        push_full=push_full,
        dbt_tests=not args.no_dbt_tests,
        warm_parse=not args.quick,
        freshness=not args.no_freshness,
        freshness_selector=args.freshness_selector,
        select=tuple(REFERENCE_SEEDS + STAGING + IDENTITY) if args.quick else (),
        same_clock=args.quick,
    )


GROUPS = ("generate", "staged", "full", "baseline", "sync", "incremental", "verify", "freshness")


def run(
    cfg: BenchConfig, clean: bool = False, only: tuple[str, ...] = GROUPS
) -> tuple[Bench, dict[str, Path]]:
    started = time.time()
    meta: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "git": report.git_state(cfg.project_dir),
        "config": {k: str(v) for k, v in vars(cfg).items()},
        "groups": list(only),
        "load_at_start": loadavg(),
    }
    paths: dict[str, Path] = {}
    # a partial run (--only) keeps the earlier stages of the result file it updates
    earlier = [] if "generate" in only else report.load_stages(cfg.results_dir, cfg.scale)

    def save(b: Bench) -> None:
        meta["elapsed_s"] = round(time.time() - started, 1)
        meta["load_now"] = loadavg()
        redone = {m.stage for m in b.results}
        kept = [m for m in earlier if m.stage not in redone]
        if kept:
            meta["kept_from_earlier_run"] = sorted({m.stage for m in kept})
        merged = sorted(kept + b.results, key=report.stage_order)
        b.merged = merged
        paths.update(report.write_results(cfg.results_dir, cfg.scale, merged, b.facts, meta))

    bench = Bench(cfg, on_result=save)
    if earlier:
        bench.facts.update(report.load_facts(cfg.results_dir, cfg.scale))

    def step(name: str, fn: Callable[[], Any]) -> bool:
        """Run a stage; an exception becomes a failed row and the bench goes on."""
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - one broken stage must not hide the others
            traceback.print_exc()
            bench.record(
                Measurement(
                    stage=name, label=name, status="failed", note=f"{type(exc).__name__}: {exc}"[:300]
                )
            )
            return False
        items = result if isinstance(result, list) else [result]
        return all(isinstance(m, Measurement) and m.status in ("ok", "n/a") for m in items)

    if "generate" in only:
        if not step("generate", bench.generate):
            save(bench)
            return bench, paths
        step("hold_out", bench.hold_out_delta)
    elif not cfg.database.is_file():
        raise SystemExit(f"{cfg.database} does not exist: run with the generate group first")
    if cfg.staged_builds and "staged" in only:
        step("seed", bench.seed_reference)
        step("staging", bench.staging)
        step("identity", bench.identity)
        step("traits_audiences", bench.traits_audiences)
    if "full" in only:
        step("full_build", bench.full_build)
    if "identity" not in bench.facts:
        bench.facts["identity"] = _quiet(bench.identity_facts)
    if "baseline" in only:
        step("baseline_blocking", lambda: bench.baseline("blocking"))
        step("baseline_predict", lambda: bench.baseline("predict"))
        if cfg.train_baseline:
            step("baseline_train", lambda: bench.baseline("train"))
    try:
        bench.start_webhook()
        if "sync" in only:
            bench.facts["audience_rows"] = cfg.scale
            step("sync", bench.sync_audience)
        if "incremental" in only:
            step("land_delta", bench.land_delta)
            step("incremental", bench.incremental)
        if cfg.verify_incremental and "verify" in only:
            step("rebuild", bench.verify_rebuild)
        if "freshness" in only:
            step("freshness", bench.freshness)
    finally:
        bench.stop_webhook()
    meta["load_at_end"] = loadavg()
    save(bench)
    png = report.plot(cfg.results_dir)
    if png:
        paths["png"] = png
    if clean:
        for db in (cfg.database, cfg.rebuild_database):
            db.unlink(missing_ok=True)
    return bench, paths


def _quiet(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - facts are informational
        return {"error": str(exc)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = config_from(args)
    if args.plot_only:
        png = report.plot(cfg.results_dir)
        print(png or "no results to plot")
        return 0
    print(f"[bench] {cfg.scale:,} people -> {cfg.database}; results in {cfg.results_dir}", flush=True)
    only = tuple(g.strip() for g in args.only.split(",") if g.strip())
    unknown = set(only) - set(GROUPS)
    if unknown:
        raise SystemExit(f"unknown --only group(s): {', '.join(sorted(unknown))}")
    bench, paths = run(cfg, clean=args.clean, only=only)
    print()
    report.print_report(cfg.scale, bench.merged or bench.results, bench.facts)
    for kind, path in sorted(paths.items()):
        print(f"{kind}: {path}")
    failed = [m.label for m in bench.results if m.status in ("failed", "timeout", "killed")]
    if failed:
        print("not completed: " + "; ".join(failed))
    return 1 if any(m.stage == "generate" and not m.ok for m in bench.results) else 0


if __name__ == "__main__":
    sys.exit(main())
