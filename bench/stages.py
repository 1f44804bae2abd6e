"""The benchmark's stages, in the order they run on one bench warehouse.

Each stage is a separate process (dbt, cdp-sync, the generator, the Splink
baseline) measured by :func:`bench.measure.run_measured`; the data preparation
between stages (holding back the delta, synthesising the sync audience, landing
the cart event) runs in the harness and is timed but not charged memory.

The clock is pinned: the generator's ``--now`` is ``T0``; the first builds run at
``cdp_run_at = T0``, the delta lands at ``T0 + 30 min`` and the incremental run is
at ``T1 = T0 + 1 h``; the freshness cart event happens at ``T1 + 5 min`` and its
build runs at ``T2 = T1 + 10 min``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml

from bench import workload
from bench.measure import Measurement, clean_stale_duckdb_temp, in_process, run_measured

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_NOW = datetime(2026, 11, 1, 12, 0, 0)
# Raw demo seeds share schema `raw` with the generated data: never let dbt load them.
EXCLUDE_RAW_SEEDS = "config.schema:raw"
STAGING = ["path:models/staging"]
IDENTITY = ["path:models/intermediate/identity", "path:models/marts/identity"]
REFERENCE_SEEDS = ["path:seeds/reference"]
SYNTHETIC_SYNC = "bench_synthetic_to_webhook"
CART_SYNC = "bench_cart_abandoners_to_webhook"
CART_AUDIENCE = "audiences.aud_cart_abandoners"
FRESHNESS_CANDIDATES = 20


@dataclass
class BenchConfig:
    scale: int
    seed: int = 1
    now: datetime = DEFAULT_NOW
    events_per_person: float = 10.0
    delta_fraction: float = 0.01
    project_dir: Path = PROJECT_DIR
    warehouse_dir: Path = PROJECT_DIR / "warehouse"
    results_dir: Path = PROJECT_DIR / "bench" / "results"
    stage_timeout: float = 4 * 3600
    # kill a stage whose resident set passes this (MiB): protects others on a shared machine
    max_rss_mb: float | None = None
    # DuckDB memory_limit for dbt and the baseline (e.g. "8GB"); None keeps DuckDB's default
    duckdb_memory_limit: str | None = None
    # kill a stage when the disk its DuckDB spills to has less than this free (GiB)
    min_free_disk_gb: float | None = 10.0
    verify_incremental: bool = True
    train_baseline: bool = True
    staged_builds: bool = True
    push_full: bool = True
    # dbt build with its data and unit tests (False: models, seeds and snapshots only)
    dbt_tests: bool = True
    # parse before a measured dbt command whenever the vars change (as partial parsing would)
    warm_parse: bool = True
    freshness: bool = True
    # what the freshness build selects (default: the whole project, as the scheduled job runs it)
    freshness_selector: str = "events_hot_path"
    # restrict every build to these selectors (the smoke test builds staging and identity only)
    select: tuple[str, ...] = ()

    # smoke test only: every build at T0, so dbt's partial parse survives (vars unchanged)
    same_clock: bool = False

    @property
    def t1(self) -> datetime:
        return self.now if self.same_clock else self.now + timedelta(hours=1)

    @property
    def t2(self) -> datetime:
        return self.now if self.same_clock else self.t1 + timedelta(minutes=10)

    @property
    def tag(self) -> str:
        return f"{self.scale}"

    @property
    def database(self) -> Path:
        return self.warehouse_dir / f"bench_{self.tag}.duckdb"

    @property
    def rebuild_database(self) -> Path:
        return self.warehouse_dir / f"bench_{self.tag}_rebuild.duckdb"

    @property
    def work_dir(self) -> Path:
        """Logs, dbt target dirs and the rendered syncs YAML of this scale."""
        return self.results_dir / f"scale_{self.tag}"


def run_at_text(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def _tool(name: str) -> str:
    """An executable of the running interpreter's environment (the venv), else PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found beside {sys.executable} or on PATH")
    return found


def _project_var(project_dir: Path, name: str, default: Any) -> Any:
    data = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return (data.get("vars") or {}).get(name, default)


@dataclass
class Bench:
    cfg: BenchConfig
    results: list[Measurement] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    on_result: Callable[[Bench], None] | None = None
    _parsed_vars: dict[str, str] = field(default_factory=dict)
    # results of this run merged with the kept stages of an earlier one (--only)
    merged: list[Measurement] = field(default_factory=list)
    _webhook: Any = None

    # ---- plumbing ------------------------------------------------------------------------------

    def __post_init__(self) -> None:
        self.cfg.work_dir.mkdir(parents=True, exist_ok=True)
        self.cfg.warehouse_dir.mkdir(parents=True, exist_ok=True)
        self.dbt_bin = _tool("dbt")
        self.profiles_dir = self._profiles_dir()
        self.secret = os.urandom(16).hex()

    def _profiles_dir(self) -> Path:
        own = self.cfg.project_dir / "profiles.yml"
        if own.is_file() and not self.cfg.duckdb_memory_limit:
            return self.cfg.project_dir
        # `make setup` writes profiles.yml; without it use the example, privately
        source = own if own.is_file() else self.cfg.project_dir / "profiles.yml.example"
        private = self.cfg.work_dir / "profiles.yml"
        if not self.cfg.duckdb_memory_limit:
            shutil.copy(source, private)
            return self.cfg.work_dir
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        for profile in data.values():
            for output in (profile.get("outputs") or {}).values():
                if output.get("type") == "duckdb":
                    output.setdefault("settings", {})["memory_limit"] = self.cfg.duckdb_memory_limit
        private.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return self.cfg.work_dir

    def env(self, database: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDP_SYNC_FAILPOINT")}
        extra_path = [
            str(self.cfg.project_dir / "sync"),
            str(self.cfg.project_dir / "bench"),
            str(self.cfg.project_dir),
        ]
        env.update(
            CDP_DUCKDB_PATH=str(database or self.cfg.database),
            CDP_TARGET="duckdb",
            DBT_PROFILES_DIR=str(self.profiles_dir),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DBT_USE_COLORS="false",
            CDP_BENCH_WEBHOOK_SECRET=self.secret,
            PYTHONPATH=os.pathsep.join(extra_path + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            NO_COLOR="1",
        )
        return env

    @property
    def temp_dirs(self) -> list[Path]:
        """Where DuckDB spills: beside each bench file, and the baseline's own directory."""
        return [
            Path(str(self.cfg.database) + ".tmp"),
            Path(str(self.cfg.rebuild_database) + ".tmp"),
            self.cfg.work_dir / "duckdb_tmp",
        ]

    @property
    def disk_paths(self) -> list[Path]:
        return [self.cfg.warehouse_dir, self.cfg.work_dir]

    def record(self, m: Measurement) -> Measurement:
        if m.status in ("killed", "timeout", "failed"):
            freed = clean_stale_duckdb_temp(self.temp_dirs)
            if freed:
                m.note += f"; removed {freed / 2**30:.1f} GiB of DuckDB spill files it left"
        self.results.append(m)
        status = m.status if m.status != "ok" else f"{m.wall_s:.1f}s"
        rss = f" peak {m.peak_rss_mb:.0f} MiB" if m.peak_rss_mb else ""
        print(f"[bench {self.cfg.tag}] {m.label}: {status}{rss} {m.note}".rstrip(), flush=True)
        if self.on_result:
            self.on_result(self)
        return m

    def skip(self, stage: str, label: str, why: str, status: str = "n/a") -> Measurement:
        return self.record(Measurement(stage=stage, label=label, status=status, note=why))

    def connect(self, read_only: bool = False, database: Path | None = None) -> Any:
        # a killed stage's process can hold the file lock for a moment while it is torn down
        for attempt in range(60):
            try:
                return duckdb.connect(str(database or self.cfg.database), read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or attempt == 59:
                    raise
                time.sleep(1)
        raise AssertionError("unreachable")

    def relation_exists(self, relation: str, database: Path | None = None) -> bool:
        schema, name = relation.split(".")
        with self.connect(read_only=True, database=database) as con:
            (n,) = con.execute(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchall()[0]
        return bool(n)

    # ---- dbt -------------------------------------------------------------------------------------

    def _dbt_cmd(self, args: list[str], run_at: datetime, target: str) -> list[str]:
        work = self.cfg.work_dir
        return [
            self.dbt_bin,
            *args,
            "--project-dir",
            str(self.cfg.project_dir),
            "--profiles-dir",
            str(self.profiles_dir),
            "--target-path",
            str(work / f"target_{target}"),
            "--log-path",
            str(work / "logs"),
            "--vars",
            json.dumps({"cdp_run_at": run_at_text(run_at)}),
        ]

    def dbt(
        self,
        stage: str,
        label: str,
        args: list[str],
        run_at: datetime,
        database: Path | None = None,
        target: str = "main",
    ) -> Measurement:
        """A measured dbt command. dbt parses first (unmeasured) whenever the vars change,
        as partial parsing would have it in production, so stages compare model work."""
        db = database or self.cfg.database
        self.warm_parse(stage, run_at, db, target)
        m = run_measured(
            stage,
            self._dbt_cmd(args, run_at, target),
            env=self.env(db),
            cwd=self.cfg.project_dir,
            log_path=self.cfg.work_dir / f"{stage}.log",
            timeout=self.cfg.stage_timeout,
            max_rss_mb=self.cfg.max_rss_mb,
            disk_paths=self.disk_paths,
            min_free_disk_gb=self.cfg.min_free_disk_gb,
            label=label,
            sample_rss=True,
        )
        self._attach_run_results(m, self.cfg.work_dir / f"target_{target}" / "run_results.json")
        self._attach_memory(m)
        return self.record(m)

    def warm_parse(self, stage: str, run_at: datetime, database: Path, target: str = "main") -> None:
        """`dbt parse` (unmeasured) when the vars changed since the last command of this target."""
        key = f"{target}:{run_at}"
        if not self.cfg.warm_parse or self._parsed_vars.get(target) == key:
            return
        parse = run_measured(
            "parse",
            self._dbt_cmd(["parse"], run_at, target),
            env=self.env(database),
            cwd=self.cfg.project_dir,
            log_path=self.cfg.work_dir / f"{stage}.parse.log",
            timeout=900,
        )
        self.facts.setdefault("dbt_parse_s", []).append(parse.wall_s)
        self._parsed_vars[target] = key

    @staticmethod
    def _attach_memory(m: Measurement) -> None:
        """Which dbt nodes were running when the resident set grew: per node, the RSS when it
        started and the highest RSS sampled while it ran (2 threads: neighbours share blame)."""
        samples = m.extra.pop("rss_samples", [])
        timings = m.extra.pop("node_windows", [])
        if not samples:
            return
        peak_t, peak = max(samples, key=lambda s: s[1])
        m.extra["rss_peak_sampled_mb"] = peak
        rows = []
        for uid, start, end in timings:
            during = [r for t, r in samples if start <= t <= end]
            before = [r for t, r in samples if t <= start]
            if not during:
                continue
            at_start = before[-1] if before else during[0]
            rows.append((uid, round(at_start, 0), round(max(during), 0), round(max(during) - at_start, 0)))
        rows.sort(key=lambda r: -r[3])
        m.extra["memory_by_node"] = rows[:15]
        m.extra["running_at_peak"] = [uid for uid, start, end in timings if start <= peak_t <= end]
        # a downsampled trace (at most ~300 points) for plots
        step = max(1, len(samples) // 300)
        m.extra["rss_trace"] = samples[::step]

    @staticmethod
    def _attach_run_results(m: Measurement, path: Path) -> None:
        if not path.is_file() or path.stat().st_mtime < time.time() - (m.wall_s or 0) - 5:
            return
        data = json.loads(path.read_text(encoding="utf-8"))
        nodes = [
            (r["unique_id"], round(float(r.get("execution_time") or 0.0), 2), r.get("status"))
            for r in data.get("results", [])
        ]
        windows = []
        for r in data.get("results", []):
            for t in r.get("timing") or []:
                if t.get("name") == "execute" and t.get("started_at") and t.get("completed_at"):
                    windows.append((r["unique_id"], _epoch(t["started_at"]), _epoch(t["completed_at"])))
        m.extra["node_windows"] = windows
        nodes.sort(key=lambda n: -n[1])
        bad = [n for n in nodes if n[2] not in ("success", "pass", "warn", "skipped", "no-op")]
        skipped = [n for n in nodes if n[2] == "skipped"]
        m.extra.update(
            dbt_elapsed_s=round(float(data.get("elapsed_time") or 0.0), 2),
            node_count=len(nodes),
            node_seconds=round(sum(n[1] for n in nodes), 2),
            nodes=nodes[:40],
            all_nodes=nodes,
            failures=[n[0] for n in bad],
        )
        if bad:
            m.note = (m.note + f"; {len(bad)} failed: " + ", ".join(n[0] for n in bad[:3])).strip("; ")
        if skipped:
            m.note = (m.note + f"; {len(skipped)} skipped").strip("; ")

    def build_args(
        self, select: list[str] | None = None, exclude: list[str] | None = None, full_refresh: bool = False
    ) -> list[str]:
        """`dbt build` arguments as a scheduled run uses them: raw seeds never run, unit tests
        never (they check code, not data: `make test` and CI run them), data tests if configured."""
        exclude = [EXCLUDE_RAW_SEEDS, "resource_type:unit_test", *(exclude or [])]
        if not self.cfg.dbt_tests:
            exclude += ["resource_type:test"]
        args = ["build"] + (["--full-refresh"] if full_refresh else [])
        if select:
            # a stage runs the tests it can: not those that also read a later stage's models
            args += ["--select", *select, "--indirect-selection", "buildable"]
        elif self.cfg.select:
            args += ["--select", *self.cfg.select]
        return args + ["--exclude", *exclude]

    @property
    def build_name(self) -> str:
        return "dbt build, data tests" if self.cfg.dbt_tests else "dbt build, no tests"

    # ---- stages ------------------------------------------------------------------------------

    def generate(self) -> Measurement:
        db = self.cfg.database
        for path in (db, db.with_suffix(".duckdb.wal")):
            path.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "cdp_datagen",
            "--people",
            str(self.cfg.scale),
            "--seed",
            str(self.cfg.seed),
            "--now",
            self.cfg.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--events-per-person",
            str(self.cfg.events_per_person),
            "--format",
            "duckdb",
            "--out",
            str(db),
        ]
        m = run_measured(
            "generate",
            cmd,
            env=self.env(),
            cwd=self.cfg.project_dir,
            log_path=self.cfg.work_dir / "generate.log",
            timeout=self.cfg.stage_timeout,
            max_rss_mb=self.cfg.max_rss_mb,
            disk_paths=self.disk_paths,
            min_free_disk_gb=self.cfg.min_free_disk_gb,
            label=f"generate {self.cfg.scale:,} people",
        )
        if m.ok:
            with self.connect(read_only=True) as con:
                self.facts["raw_rows_generated"] = workload.raw_row_count(con)
            m.note = f"{self.facts['raw_rows_generated']:,} raw rows"
        return self.record(m)

    def hold_out_delta(self) -> Measurement:
        def work() -> dict[str, Any]:
            with self.connect() as con:
                counts = workload.hold_out(con, self.cfg.delta_fraction, self.cfg.now + timedelta(minutes=20))
                counts["raw_rows_initial"] = workload.raw_row_count(con)
            return counts

        m = in_process("hold_out", work, label="hold back the 1% delta (prep)")
        self.facts["delta"] = dict(m.extra)
        m.note = (
            f"{m.extra['new_rows']:,} rows of new people + {m.extra['changed_rows']:,} "
            f"changed versions held back; {m.extra['raw_rows_initial']:,} raw rows remain"
        )
        return self.record(m)

    def seed_reference(self) -> Measurement:
        return self.dbt(
            "seed", "dbt seed (reference data)", ["seed", "--select", *REFERENCE_SEEDS], self.cfg.now
        )

    def staging(self) -> Measurement:
        return self.dbt(
            "staging",
            f"staging ({self.build_name})",
            self.build_args(STAGING),
            self.cfg.now,
        )

    def identity(self) -> Measurement:
        m = self.dbt(
            "identity",
            f"identity ({self.build_name})",
            self.build_args(IDENTITY),
            self.cfg.now,
        )
        if m.ok or self.relation_exists("marts.dim_customer_records"):
            self.facts["identity"] = self.identity_facts()
        return m

    def rest_selector(self) -> list[str] | None:
        """Everything after identity (traits, marts, audiences, snapshots), or None."""
        models = self.cfg.project_dir / "models"
        skip = [models / "staging", models / "intermediate" / "identity", models / "marts" / "identity"]
        found = [
            p
            for p in models.rglob("*")
            if p.suffix in (".sql", ".py") and not any(p.is_relative_to(s) for s in skip)
        ]
        if not found:
            return None
        return [*REFERENCE_SEEDS, *STAGING, *IDENTITY]

    def traits_audiences(self) -> Measurement:
        selector = self.rest_selector()
        label = f"traits and audiences ({self.build_name})"
        if selector is None:
            return self.skip("traits_audiences", label, "no models beyond staging and identity yet")
        args = self.build_args(exclude=selector) + ["--indirect-selection", "buildable"]
        return self.dbt("traits_audiences", label, args, self.cfg.now)

    def baseline(self, mode: str) -> Measurement:
        label = {
            "predict": "baseline: standalone Splink, saved model (predict + cluster)",
            "train": "baseline: standalone Splink, train + predict + cluster",
            "blocking": "Splink blocking analysis: pairs per blocking rule",
        }[mode]
        stage = f"baseline_{mode}"
        if not self.relation_exists("intermediate.int_identity__splink_input"):
            return self.skip(stage, label, "int_identity__splink_input was not built", "failed")
        out = self.cfg.work_dir / f"{stage}.json"
        threshold = float(_project_var(self.cfg.project_dir, "cdp_match_probability_threshold", 0.99))
        cmd = [
            sys.executable,
            "-m",
            "bench.baseline",
            "--db",
            str(self.cfg.database),
            "--mode",
            mode,
            "--threshold",
            str(threshold),
            "--out",
            str(out),
            "--project-dir",
            str(self.cfg.project_dir),
            "--temp-dir",
            str(self.cfg.work_dir / "duckdb_tmp"),
        ] + (["--memory-limit", self.cfg.duckdb_memory_limit] if self.cfg.duckdb_memory_limit else [])
        m = run_measured(
            stage,
            cmd,
            env=self.env(),
            cwd=self.cfg.project_dir,
            log_path=self.cfg.work_dir / f"{stage}.log",
            timeout=self.cfg.stage_timeout,
            max_rss_mb=self.cfg.max_rss_mb,
            disk_paths=self.disk_paths,
            min_free_disk_gb=self.cfg.min_free_disk_gb,
            label=label,
        )
        if m.ok and out.is_file() and mode == "blocking":
            detail = json.loads(out.read_text(encoding="utf-8"))
            m.extra.update(detail)
            self.facts["blocking"] = {k: detail[k] for k in ("records", "pairs_to_score", "rules")}
            top = detail["largest_blocks"][0] if detail["largest_blocks"] else {}
            m.note = (
                f"{detail['records']:,} records -> {detail['pairs_to_score']:,} pairs to score; "
                + "; ".join(
                    f"{_short_rule(r['rule'])}: +{r['marginal_pairs']:,}"
                    for r in sorted(detail["rules"], key=lambda r: -r["marginal_pairs"])[:2]
                )
                + (
                    f"; largest block {top.get('key_0')} {top.get('key_1')}: {top.get('count_l'):,} records"
                    if top
                    else ""
                )
            )
        elif m.ok and out.is_file():
            detail = json.loads(out.read_text(encoding="utf-8"))
            m.extra.update(detail)
            m.note = (
                f"{detail['records']:,} records, {detail['pairs']:,} pairs, "
                f"{detail['clusters']:,} clusters; predict {detail['predict_s']:.1f}s, "
                f"cluster {detail['cluster_s']:.1f}s"
                + (f", train {detail['train_s']:.1f}s" if "train_s" in detail else "")
            )
            dbt_pairs = self.facts.get("identity", {}).get("splink_pairs")
            if mode == "predict" and dbt_pairs is not None:
                m.extra["same_pairs_as_dbt"] = dbt_pairs == detail["pairs"]
        return self.record(m)

    def full_build(self) -> Measurement:
        return self.dbt(
            "full_build",
            f"full {self.build_name} (--full-refresh)",
            self.build_args(full_refresh=True),
            self.cfg.now,
        )

    # ---- sync ----------------------------------------------------------------------------------

    def _render_syncs(self) -> Path:
        text = (self.cfg.project_dir / "bench" / "syncs.yml").read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        url = self._webhook.url if self._webhook else "http://127.0.0.1:9"
        for sync in data["syncs"]:
            sync["destination"]["url"] = sync["destination"]["url"].format(webhook_url=url)
        # the cart sync sends what the project's own cart-abandoner sync would send
        project = yaml.safe_load((self.cfg.project_dir / "sync" / "syncs.yml").read_text(encoding="utf-8"))
        for sync in project.get("syncs", []):
            if sync.get("source") == CART_AUDIENCE:
                mapping = sync.get("mapping")
                columns = list(mapping.values()) if isinstance(mapping, dict) else list(mapping)
                for bench_sync in data["syncs"]:
                    if bench_sync["name"] == CART_SYNC:
                        bench_sync["mapping"] = sorted(set(columns) | {"customer_id"})
        path = self.cfg.work_dir / "syncs.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def start_webhook(self) -> None:
        from bench.loopback import LoopbackWebhook

        self._webhook = LoopbackWebhook(secret=self.secret).start()
        self.syncs_path = self._render_syncs()

    def stop_webhook(self) -> None:
        if self._webhook is not None:
            self._webhook.stop()
            self._webhook = None

    def cdp_sync(self, stage: str, label: str, *args: str) -> Measurement:
        cmd = [
            sys.executable,
            "-m",
            "cdp_sync",
            "--config",
            str(self.syncs_path),
            "--project-dir",
            str(self.cfg.project_dir),
            "--profiles-dir",
            str(self.profiles_dir),
            "--json",
            *args,
        ]
        log = self.cfg.work_dir / f"{stage}.log"
        m = run_measured(
            stage,
            cmd,
            env=self.env(),
            cwd=self.cfg.project_dir,
            log_path=log,
            timeout=self.cfg.stage_timeout,
            max_rss_mb=self.cfg.max_rss_mb,
            disk_paths=self.disk_paths,
            min_free_disk_gb=self.cfg.min_free_disk_gb,
            label=label,
        )
        m.extra.update(_last_json(log))
        return m

    def sync_audience(self) -> list[Measurement]:
        """Push an N-row audience, change 1 %, diff (plan), push the change."""
        n = self.cfg.scale
        out: list[Measurement] = []
        prep = in_process(
            "sync_prepare", lambda: self._create_audience(n), label="synthesise the sync audience"
        )
        out.append(self.record(prep))
        if self.cfg.push_full:
            push = self.cdp_sync("sync_push_full", f"sync push: first run, {n:,} rows", "run", SYNTHETIC_SYNC)
            self._push_note(push, n)
        else:
            push = in_process(
                "sync_push_full",
                lambda: self._seed_state(),
                label="sync state seeded in SQL (first push skipped)",
            )
        out.append(self.record(push))
        change = in_process(
            "sync_change",
            lambda: self._with_con(lambda con: workload.change_audience(con, self.cfg.delta_fraction)),
            label="change 1% of the audience",
        )
        out.append(self.record(change))
        expected = {k: change.extra[k] for k in ("add", "change", "remove")}

        plan = self.cdp_sync(
            "sync_diff",
            f"sync diff: cdp-sync plan, {n:,}-row audience",
            "plan",
            "--sample",
            "5",
            SYNTHETIC_SYNC,
        )
        counts = (plan.extra.get("plans") or [{}])[0].get("counts", {})
        plan.extra["expected"] = expected
        plan.extra["counts"] = counts
        plan.note = f"plan {_counts_text(counts)} (expected {_counts_text(expected)})"
        out.append(self.record(plan))
        out.append(self.record(self._diff_query(n)))

        push = self.cdp_sync("sync_push_delta", "sync push: the 1% change", "run", SYNTHETIC_SYNC)
        self._push_note(push, sum(expected.values()))
        out.append(self.record(push))
        return out

    def _with_con(self, fn: Callable[[Any], Any]) -> Any:
        with self.connect() as con:
            return fn(con)

    def _create_audience(self, n: int) -> dict[str, Any]:
        with self.connect() as con:
            workload.create_audience(con, n, self.cfg.now)
            con.execute("drop schema if exists cdp_sync cascade")
        return {"rows": n}

    def _seed_state(self) -> dict[str, Any]:
        """The state a successful first run leaves, written in SQL with cdp-sync's own hash."""
        from cdp_sync.config import load_syncs
        from cdp_sync.warehouse import SyncStore, Warehouse

        sync = load_syncs(self.syncs_path).get(SYNTHETIC_SYNC)
        with self.connect() as con:
            store = SyncStore(Warehouse(con, "duckdb", "bench", False), sync)
            store.ensure_tables()
            con.execute(
                f"insert into {store.state} (primary_key, synced_hash, destination_id, synced_at, attempts) "
                f"select cast(customer_id as varchar), {store.hash_expr()}, cast(customer_id as varchar), "
                f"current_timestamp::timestamp, 0 from {sync.source}"
            )
        return {}

    def _diff_query(self, n: int) -> Measurement:
        """The diff query alone, as `plan` runs it (the CLI does not report its time)."""
        from cdp_sync.config import load_syncs
        from cdp_sync.warehouse import SyncStore, Warehouse

        sync = load_syncs(self.syncs_path).get(SYNTHETIC_SYNC)

        def work() -> dict[str, Any]:
            with self.connect(read_only=True) as con:
                store = SyncStore(Warehouse(con, "duckdb", "bench", True), sync)
                store.plan_counts()  # warm: file pages in the OS cache, as in the CLI run
                t = time.perf_counter()
                counts = store.plan_counts()
                return {"diff_query_s": round(time.perf_counter() - t, 3), "counts": counts}

        m = in_process("sync_diff_query", work, label=f"sync diff: the diff query alone, {n:,} rows")
        m.wall_s = m.extra["diff_query_s"]
        m.note = "SyncStore.plan_counts(): one full outer join of audience and state"
        return m

    def _push_note(self, m: Measurement, rows: int) -> None:
        finished = m.extra.get("run_finished") or {}
        if m.wall_s and rows:
            m.extra["rows_per_s"] = round(rows / m.wall_s, 1)
        m.note = (
            f"{finished.get('status', '?')}; {rows:,} rows"
            + (f", {m.extra['rows_per_s']:,.0f} rows/s" if "rows_per_s" in m.extra else "")
            + (f"; {m.note}" if m.note else "")
        )

    # ---- incremental ------------------------------------------------------------------------

    def land_delta(self) -> Measurement:
        def work() -> dict[str, Any]:
            with self.connect() as con:
                return workload.land_delta(con, self.cfg.now + timedelta(minutes=30))

        m = in_process("land_delta", work, label="land the 1% delta in raw (prep)")
        m.note = f"{m.extra['landed_rows']:,} rows appended with _loaded_at = T0 + 30 min"
        return self.record(m)

    def incremental(self) -> Measurement:
        m = self.dbt(
            "incremental",
            f"incremental {self.build_name} (+1% new, 1% changed)",
            self.build_args(),
            self.cfg.t1,
        )
        if self.relation_exists("intermediate.int_identity__splink_edges__model"):
            # proof that the incremental path ran: its mode and how many pairs it compared
            self.facts["identity_incremental"] = self.identity_facts()
            with self.connect(read_only=True) as con:
                (mode,) = con.execute(
                    "select last_run_mode from intermediate.int_identity__splink_edges__model"
                ).fetchall()[0]
            self.facts["identity_incremental"]["splink_run_mode"] = mode
            m.note = (
                f"Splink {mode}: compared {self.facts['identity_incremental']['splink_compared_pairs']:,}"
                f" of {self.facts['identity_incremental']['splink_stored_pairs']:,} pairs"
                + (f"; {m.note}" if m.note else "")
            )
        manifest = self.cfg.work_dir / "target_main" / "manifest.json"
        if manifest.is_file():
            nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {})
            self.facts["incremental_models"] = sorted(
                n["name"]
                for n in nodes.values()
                if n.get("resource_type") == "model"
                and n.get("config", {}).get("materialized") == "incremental"
            )
        return m

    def verify_rebuild(self) -> Measurement:
        """A from-scratch build of the same raw data; its clusters must equal the incremental's."""
        db = self.cfg.rebuild_database
        for path in (db, db.with_suffix(".duckdb.wal")):
            path.unlink(missing_ok=True)
        with duckdb.connect(str(db)) as con:
            con.execute(f"attach '{self.cfg.database}' as src (read_only)")
            con.execute("create schema raw")
            tables = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_catalog = 'src' and table_schema = 'raw'"
                ).fetchall()
            ]
            for t in tables:
                con.execute(f"create table raw.{t} as select * from src.raw.{t}")
        m = self.dbt(
            "rebuild",
            "full rebuild of the same data (check)",
            self.build_args(),
            self.cfg.t1,
            database=db,
            target="rebuild",
        )
        if self.relation_exists("intermediate.int_identity__clusters", database=db):
            with duckdb.connect(str(self.cfg.database), read_only=True) as con:
                con.execute(f"attach '{db}' as rebuilt (read_only)")
                mine = "select record_key, cluster_key from intermediate.int_identity__clusters"
                theirs = "select record_key, cluster_key from rebuilt.intermediate.int_identity__clusters"
                diff = con.execute(
                    f"select count(*) from (({mine} except {theirs}) union all ({theirs} except {mine}))"
                ).fetchall()[0][0]
                (nodes,) = con.execute("select count(*) from intermediate.int_identity__clusters").fetchall()[
                    0
                ]
            self.facts["incremental_clusters_equal"] = diff == 0
            self.facts["incremental_cluster_diff_rows"] = int(diff)
            m.extra["cluster_rows_differing"] = int(diff)
            m.note = (
                f"clusters {'identical' if diff == 0 else 'DIFFER'} to the incremental run's "
                f"({diff:,} of {nodes:,} node rows differ)" + (f"; {m.note}" if m.note else "")
            )
        return m

    # ---- freshness ------------------------------------------------------------------------

    def freshness(self) -> list[Measurement]:
        selector = self.cfg.freshness_selector
        build_kind = f"--selector {selector}" if selector else "incremental build"
        label = f"freshness: cart event -> {build_kind} -> cart sync -> destination"
        if not self.cfg.freshness:
            return [self.skip("freshness", label, "skipped (--no-freshness)", "skipped")]
        if not self.relation_exists(CART_AUDIENCE):
            return [self.skip("freshness", label, f"{CART_AUDIENCE} does not exist yet")]
        out: list[Measurement] = []
        first = self.cdp_sync("freshness_sync_initial", "cart-abandoner sync: initial run", "run", CART_SYNC)
        out.append(self.record(first))
        candidates = self._cart_candidates()
        if not candidates:
            return out + [self.skip("freshness", label, "no candidate customer found", "failed")]
        # parsing for the new clock is not part of the latency (production parses partially)
        self.warm_parse("freshness_build", self.cfg.t2, self.cfg.database)
        started = time.perf_counter()
        with self.connect() as con:
            workload.land_cart_events(
                con,
                candidates,
                self.cfg.t1 + timedelta(minutes=5),
                self.cfg.t1 + timedelta(minutes=6),
            )
        landed = time.perf_counter()
        build = self.dbt(
            "freshness_build",
            self._freshness_build_label(),
            self._freshness_build_args(),
            self.cfg.t2,
        )
        out.append(build)
        sync = self.cdp_sync("freshness_sync", "freshness: cart-abandoner sync run", "run", CART_SYNC)
        out.append(self.record(sync))
        held = self._webhook.held.get(CART_SYNC, set()) if self._webhook else set()
        wanted = {c[0] for c in candidates}
        delivered = wanted & held
        done = time.perf_counter()
        m = Measurement(stage="freshness", label=label, wall_s=round(done - landed, 3))
        m.extra.update(
            candidates=len(wanted),
            delivered=len(delivered),
            landing_s=round(landed - started, 3),
            build_s=build.wall_s,
            sync_s=sync.wall_s,
        )
        if not delivered:
            m.status = "failed"
            m.note = f"none of {len(wanted)} customers reached the destination"
        else:
            m.note = (
                f"{len(delivered)} of {len(wanted)} customers delivered "
                f"(build {build.wall_s:.1f}s + sync {sync.wall_s:.1f}s)"
            )
        return out + [self.record(m)]

    def _freshness_build_label(self) -> str:
        if self.cfg.freshness_selector:
            command = "build" if self.cfg.dbt_tests else "run"
            return f"freshness: dbt {command} --selector {self.cfg.freshness_selector}"
        return f"freshness: incremental {self.build_name}"

    def _freshness_build_args(self) -> list[str]:
        """The hot path as a user runs it (`--selector` ignores `--exclude`: the selector itself
        leaves unit tests out), or the whole scheduled build."""
        if self.cfg.freshness_selector:
            return ["build" if self.cfg.dbt_tests else "run", "--selector", self.cfg.freshness_selector]
        return self.build_args()

    def _cart_candidates(self) -> list[tuple[str, str, str | None]]:
        """Existing customers with an app account who qualify for the cart audience except for a
        recent cart (email, email-marketing and analytics consent) and are not in it yet."""
        eligible = "select customer_id from marts.dim_customers where email is not null"
        if self.relation_exists("marts.customer_profiles"):
            with self.connect(read_only=True) as con:
                cols = {r[0] for r in con.execute("describe marts.customer_profiles").fetchall()}
            wanted = [c for c in ("email_marketing_consent", "analytics_consent") if c in cols]
            eligible = "select customer_id from marts.customer_profiles where email is not null" + "".join(
                f" and {c}" for c in wanted
            )
        with self.connect(read_only=True) as con:
            rows = con.execute(
                f"""
                with app_records as (
                    select customer_id, min(source_record_id) as user_id
                    from marts.dim_customer_records
                    where source_table = 'app_users'
                      and customer_id in ({eligible})
                      and customer_id not in (select customer_id from {CART_AUDIENCE})
                    group by customer_id
                )
                select a.customer_id, a.user_id,
                    (select min(anonymous_id) from staging.stg_web__events e
                     where e.app_user_id = a.user_id and e.anonymous_id is not null) as anonymous_id
                from app_records a
                order by md5(a.customer_id)
                limit {FRESHNESS_CANDIDATES}
                """
            ).fetchall()
        return [(str(c), str(u), a) for c, u, a in rows]

    # ---- facts -----------------------------------------------------------------------------

    def identity_facts(self, database: Path | None = None) -> dict[str, Any]:
        """Sizes of the identity graph and pairwise accuracy against the generator's truth."""
        q = {
            "nodes": "select count(*) from intermediate.int_identity__nodes",
            "splink_input": "select count(*) from intermediate.int_identity__splink_input",
            "splink_pairs": "select count(*) from intermediate.int_identity__splink_edges",
            "candidate_edges": "select count(*) from intermediate.int_identity__edge_decisions",
            "accepted_edges": (
                "select count(*) from intermediate.int_identity__edge_decisions where decision = 'accepted'"
            ),
            "customers": "select count(distinct customer_id) from marts.dim_customer_records",
            # the Splink model's own record of its last run (full or incremental, pairs compared)
            "splink_stored_pairs": "select stored_pairs from intermediate.int_identity__splink_edges__model",
            "splink_compared_pairs": (
                "select compared_pairs from intermediate.int_identity__splink_edges__model"
            ),
            "splink_compared_records": (
                "select compared_records from intermediate.int_identity__splink_edges__model"
            ),
        }
        facts: dict[str, Any] = {}
        with self.connect(read_only=True, database=database) as con:
            for key, sql in q.items():
                try:
                    facts[key] = int(con.execute(sql).fetchall()[0][0])
                except duckdb.Error:
                    facts[key] = None
            try:
                tp, predicted, actual = con.execute(
                    """
                    with r as (
                        select r.customer_id, g.person_id
                        from marts.dim_customer_records r
                        join raw.demo_ground_truth g using (record_key)
                    ),
                    both_ as (select count(*) as n from r group by customer_id, person_id),
                    pred as (select count(*) as n from r group by customer_id),
                    truth as (select count(*) as n from r group by person_id)
                    select (select sum(n * (n - 1) / 2) from both_),
                           (select sum(n * (n - 1) / 2) from pred),
                           (select sum(n * (n - 1) / 2) from truth)
                    """
                ).fetchall()[0]
                facts["pairwise_precision"] = round(float(tp) / float(predicted), 4) if predicted else None
                facts["pairwise_recall"] = round(float(tp) / float(actual), 4) if actual else None
            except duckdb.Error:
                pass
        return facts


def _short_rule(rule: str) -> str:
    """`(l."a" = r."a") AND (l."b" = r."b")` -> `a+b`."""
    import re

    names = re.findall(r'l\."?([a-z_]+)"?', rule)
    return "+".join(dict.fromkeys(names)) or rule


def _epoch(iso_utc: str) -> float:
    return datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).timestamp()


def _last_json(log: Path) -> dict[str, Any]:
    """cdp-sync --json output: one document (plan) or JSON lines (run)."""
    found: dict[str, Any] = {}
    if not log.is_file():
        return found
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if "event" in obj:
            found[str(obj["event"])] = obj
        else:
            found.update(obj)
    return found


def _counts_text(counts: dict[str, Any]) -> str:
    return "/".join(f"{counts.get(k, 0):,}" for k in ("add", "change", "remove")) + " add/change/remove"
