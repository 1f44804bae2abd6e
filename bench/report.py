"""Results: the printed table, the ratios against the targets, result files and the plot.

Files in the results directory (``bench/results/``, git-ignored):
``bench_<scale>.json`` (everything: machine, config, facts, every stage with its
slowest dbt nodes), ``bench_<scale>.csv`` (one row per stage),
``bench_<scale>.md`` (the tables as Markdown) and ``bench_cost_vs_scale.png``
(wall time and peak memory of each stage against scale, log-log, from every
``bench_*.json`` present).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.measure import Measurement

GIB = 1024.0


@dataclass
class Ratio:
    name: str
    value: float | None
    target: float | None
    unit: str  # "x", "s", "GiB", ""
    detail: str = ""
    lower_is_better: bool = True

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "n/a"
        if self.target is None:
            return ""
        if not self.lower_is_better:
            return "met" if self.value >= self.target else "missed"
        if self.value <= self.target:
            return "met"
        over = (self.value / self.target - 1) * 100 if self.target else float("inf")
        return f"missed by {over:.0f}%"

    def text(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if self.unit == "%":
            return f"{self.value * 100:.1f}%"
        return f"{self.value:.2f} {self.unit}".strip()

    def target_text(self) -> str:
        if self.target is None:
            return ""
        if self.unit == "%":
            return f"<= {self.target * 100:.0f}%"
        if self.unit == "x":
            return f"<= {self.target:g}x"
        if not self.lower_is_better:
            return f">= {self.target:g}"
        return f"< {self.target:g} {self.unit}"


def _by_stage(results: list[Measurement]) -> dict[str, Measurement]:
    return {m.stage: m for m in results}


def _wall(m: Measurement | None) -> float | None:
    return m.wall_s if m is not None and m.ok and m.wall_s else None


def _cpu(m: Measurement | None) -> float | None:
    return m.cpu_s if m is not None and m.ok and m.cpu_s else None


def _div(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def ratios(results: list[Measurement], facts: dict[str, Any]) -> list[Ratio]:
    s = _by_stage(results)
    base = s.get("baseline_predict")
    identity, full, incr = s.get("identity"), s.get("full_build"), s.get("incremental")
    inner = base.extra.get("predict_cluster_s") if base is not None and base.ok else None
    out = [
        Ratio(
            "identity step / standalone Splink (saved model)",
            _div(_wall(identity), _wall(base)),
            1.2,
            "x",
            "both whole processes; target at 1M records",
        ),
        Ratio(
            "identity step / Splink predict+cluster only",
            _div(_wall(identity), inner),
            None,
            "x",
            "baseline without Python start-up, import and load",
        ),
        Ratio(
            "full dbt build / standalone Splink (saved model)",
            _div(_wall(full), _wall(base)),
            3.0,
            "x",
            "target at 1M people",
        ),
        Ratio(
            "full dbt build peak memory",
            round(full.peak_rss_mb / GIB, 2) if full is not None and full.peak_rss_mb else None,
            4.0,
            "GiB",
            "peak RSS of the dbt process",
        ),
        Ratio(
            "incremental run / full build",
            _div(_wall(incr), _wall(full)),
            0.10,
            "%",
            "incremental models: " + (", ".join(facts.get("incremental_models") or []) or "none"),
        ),
    ]
    # CPU seconds are less sensitive to other work on a shared machine than wall time
    out += [
        Ratio(
            "  same, CPU time: identity / standalone Splink",
            _div(_cpu(identity), _cpu(base)),
            None,
            "x",
            "user+sys of each process; robust to machine load",
        ),
        Ratio("  same, CPU time: full build / standalone Splink", _div(_cpu(full), _cpu(base)), None, "x"),
        Ratio("  same, CPU time: incremental / full build", _div(_cpu(incr), _cpu(full)), None, "%"),
    ]
    equal = facts.get("incremental_clusters_equal")
    out.append(
        Ratio(
            "incremental clusters == full rebuild",
            None if equal is None else float(equal),
            1.0,
            "",
            "1 = identical record -> cluster mapping",
            lower_is_better=False,
        )
    )
    diff_query = s.get("sync_diff_query")
    plan = s.get("sync_diff")
    rows = facts.get("audience_rows")
    out.append(
        Ratio(
            f"sync diff query, {rows:,}-row audience" if rows else "sync diff query",
            _wall(diff_query),
            2.0,
            "s",
            "target at 1M rows",
        )
    )
    out.append(
        Ratio(
            "sync diff, whole `cdp-sync plan` command",
            _wall(plan),
            None,
            "s",
            "process start, config, source checks, counts and sample",
        )
    )
    fresh = s.get("freshness")
    out.append(Ratio("freshness: landing -> destination", _wall(fresh), 60.0, "s", "target at 1M customers"))
    return out


# --- output -----------------------------------------------------------------------------------


def _fmt(v: float | None, spec: str) -> str:
    return "" if v is None else format(v, spec)


def stage_rows(results: list[Measurement]) -> list[list[str]]:
    rows = []
    for m in results:
        rows.append(
            [
                m.label,
                _fmt(m.wall_s, ".1f") if m.status in ("ok", "failed", "timeout", "killed") else m.status,
                _fmt(m.peak_rss_mb, ",.0f"),
                _fmt(m.cpu_s, ".1f"),
                "" if m.load_before is None else f"{m.load_before:.1f}/{m.load_after:.1f}",
                "" if m.status == "ok" else m.status,
                m.note,
            ]
        )
    return rows


STAGE_HEADER = ["stage", "wall s", "peak RSS MiB", "CPU s", "load 1m before/after", "status", "note"]
RATIO_HEADER = ["ratio", "measured", "target", "verdict", "note"]


def print_report(
    scale: int, results: list[Measurement], facts: dict[str, Any], console: Console | None = None
) -> None:
    console = console or Console(width=200)
    table = Table(title=f"bench: {scale:,} people ({facts.get('raw_rows_generated', 0):,} raw rows)")
    for h in STAGE_HEADER:
        table.add_column(h, justify="right" if h not in ("stage", "note", "status") else "left")
    for row in stage_rows(results):
        table.add_row(*row)
    console.print(table)
    rt = Table(title="ratios and targets")
    for h in RATIO_HEADER:
        rt.add_column(h)
    for r in ratios(results, facts):
        rt.add_row(r.name, r.text(), r.target_text(), r.verdict, r.detail)
    console.print(rt)
    slow = slowest_nodes(results)
    if slow:
        st = Table(title="slowest dbt nodes (full build, else the stage builds)")
        for h in ("node", "seconds", "stage"):
            st.add_column(h)
        for node, secs, stage in slow[:15]:
            st.add_row(node, f"{secs:.1f}", stage)
        console.print(st)
    full = _by_stage(results).get("full_build")
    if full is not None and full.extra.get("all_nodes"):
        at = Table(title="full build: dbt node time by area (sum over 2 threads)")
        for h in ("area", "node seconds", "nodes"):
            at.add_column(h)
        for name, secs, count in time_by_area(full):
            at.add_row(name, f"{secs:.1f}", str(count))
        console.print(at)
    mem = memory_rows(results)
    if mem:
        mt = Table(title="memory: dbt nodes during which the resident set grew most (RSS sampled 2/s)")
        for h in ("stage", "node", "RSS at start MiB", "max RSS while running MiB", "growth MiB"):
            mt.add_column(h)
        for row in mem:
            mt.add_row(*row)
        console.print(mt)
    ident = facts.get("identity") or {}
    if ident:
        console.print(
            "identity: "
            + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in ident.items())
        )


def memory_rows(results: list[Measurement], per_stage: int = 5) -> list[list[str]]:
    rows = []
    for m in results:
        if m.stage not in ("staging", "identity", "traits_audiences", "full_build", "incremental"):
            continue
        for uid, start, top, growth in m.extra.get("memory_by_node", [])[:per_stage]:
            if growth <= 0:
                continue
            short = uid.split(".", 2)[-1] if uid.count(".") >= 2 else uid
            rows.append([m.stage, short, f"{start:,.0f}", f"{top:,.0f}", f"{growth:,.0f}"])
    return rows


def slowest_nodes(results: list[Measurement]) -> list[tuple[str, float, str]]:
    s = _by_stage(results)
    chosen = (
        [s["full_build"]]
        if "full_build" in s and s["full_build"].extra.get("nodes")
        else [m for m in results if m.stage in ("staging", "identity", "traits_audiences")]
    )
    nodes = [
        (uid.split(".", 2)[-1] if uid.count(".") >= 2 else uid, secs, m.stage)
        for m in chosen
        for uid, secs, _ in m.extra.get("nodes", [])
    ]
    return sorted(nodes, key=lambda n: -n[1])


IDENTITY_PREFIXES = ("int_identity__", "dim_customer", "fct_identity_edges", "fct_customer_id_changes")


def area(unique_id: str) -> str:
    """Which part of the pipeline a dbt node belongs to (by resource type and name)."""
    kind, _, rest = unique_id.partition(".")
    name = rest.split(".", 1)[-1]
    if kind == "unit_test":
        return "unit tests"
    if kind == "test":
        return "data tests"
    if kind in ("seed", "snapshot", "exposure"):
        return kind + "s"
    if name.startswith(("base_", "stg_")):
        return "staging models"
    if name.startswith(IDENTITY_PREFIXES):
        return "identity models"
    return "traits, audiences and other models"


def time_by_area(m: Measurement) -> list[tuple[str, float, int]]:
    """Sum of dbt node execution times per area (2 threads overlap: a share, not wall time)."""
    totals: dict[str, list[float]] = {}
    for uid, secs, _ in m.extra.get("all_nodes", m.extra.get("nodes", [])):
        t = totals.setdefault(area(uid), [0.0, 0])
        t[0] += secs
        t[1] += 1
    return sorted(((k, round(v[0], 1), int(v[1])) for k, v in totals.items()), key=lambda r: -r[1])


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            info["mem_total_gib"] = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    for mod in ("duckdb", "splink", "dbt.version"):
        try:
            module = __import__(mod, fromlist=["x"])
            info[mod.split(".")[0]] = getattr(module, "__version__", None) or str(
                module.get_installed_version()
            )
        except Exception:  # noqa: BLE001 - informational only
            pass
    return info


def git_state(project_dir: Path) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "models", "macros"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return {"commit": commit, "models_or_macros_modified": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        # a snapshot outside git (e.g. `git archive`): the caller may name the commit
        return {"commit": os.environ.get("BENCH_GIT_COMMIT", "unknown")}


STAGE_ORDER = (
    "generate", "hold_out", "seed", "staging", "identity", "traits_audiences", "full_build",
    "baseline_blocking", "baseline_predict", "baseline_train", "sync_prepare", "sync_push_full",
    "sync_change", "sync_diff", "sync_diff_query", "sync_push_delta", "land_delta", "incremental",
    "rebuild", "freshness_sync_initial", "freshness_build", "freshness_sync", "freshness",
)  # fmt: skip


def stage_order(m: Measurement) -> int:
    return STAGE_ORDER.index(m.stage) if m.stage in STAGE_ORDER else len(STAGE_ORDER)


def load_stages(results_dir: Path, scale: int) -> list[Measurement]:
    """The stages of an earlier result file (for partial runs), or nothing."""
    path = results_dir / f"bench_{scale}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    fields = set(Measurement.__dataclass_fields__)
    return [Measurement(**{k: v for k, v in st.items() if k in fields}) for st in doc.get("stages", [])]


def load_facts(results_dir: Path, scale: int) -> dict[str, Any]:
    try:
        return dict(json.loads((results_dir / f"bench_{scale}.json").read_text(encoding="utf-8"))["facts"])
    except (OSError, ValueError, KeyError):
        return {}


def write_results(
    results_dir: Path,
    scale: int,
    results: list[Measurement],
    facts: dict[str, Any],
    meta: dict[str, Any],
) -> dict[str, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = results_dir / f"bench_{scale}"
    rs = ratios(results, facts)
    doc = {
        "scale": scale,
        **meta,
        "facts": facts,
        "stages": [m.as_dict() for m in results],
        "ratios": [
            {
                "name": r.name,
                "value": r.value,
                "target": r.target,
                "unit": r.unit,
                "verdict": r.verdict,
                "detail": r.detail,
            }
            for r in rs
        ],
    }
    paths = {
        "json": stem.with_suffix(".json"),
        "csv": stem.with_suffix(".csv"),
        "md": stem.with_suffix(".md"),
    }
    paths["json"].write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    with paths["csv"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "scale",
                "stage",
                "label",
                "wall_s",
                "peak_rss_mb",
                "cpu_s",
                "status",
                "load_before",
                "load_after",
                "note",
            ]
        )
        for m in results:
            w.writerow(
                [
                    scale,
                    m.stage,
                    m.label,
                    m.wall_s,
                    m.peak_rss_mb,
                    m.cpu_s,
                    m.status,
                    m.load_before,
                    m.load_after,
                    m.note,
                ]
            )
    paths["md"].write_text(markdown(scale, results, facts), encoding="utf-8")
    return paths


def markdown(scale: int, results: list[Measurement], facts: dict[str, Any]) -> str:
    def table(header: list[str], rows: list[list[str]]) -> str:
        cells = [[c.replace("|", "\\|") for c in r] for r in rows]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join(lines)

    parts = [
        f"### {scale:,} people ({facts.get('raw_rows_generated', 0):,} raw rows)\n",
        table(STAGE_HEADER, stage_rows(results)),
        "",
        table(
            RATIO_HEADER,
            [[r.name, r.text(), r.target_text(), r.verdict, r.detail] for r in ratios(results, facts)],
        ),
        "",
    ]
    full = _by_stage(results).get("full_build")
    if full is not None and full.extra.get("all_nodes"):
        parts += [
            table(
                ["full build: area", "node seconds", "nodes"],
                [[a, f"{s:.1f}", str(n)] for a, s, n in time_by_area(full)],
            ),
            "",
        ]
    mem = memory_rows(results)
    if mem:
        parts += [
            table(["stage", "node", "RSS at start MiB", "max RSS while running MiB", "growth MiB"], mem),
            "",
        ]
    slow = slowest_nodes(results)[:15]
    if slow:
        parts += [
            table(["slowest dbt node", "seconds", "stage"], [[n, f"{s:.1f}", st] for n, s, st in slow]),
            "",
        ]
    return "\n".join(parts) + "\n"


PLOTTED = {
    "generate": "generate",
    "staging": "staging",
    "identity": "identity",
    "traits_audiences": "traits + audiences",
    "baseline_predict": "Splink standalone (saved model)",
    "baseline_train": "Splink standalone (train)",
    "full_build": "full dbt build",
    "incremental": "incremental build",
    "sync_diff": "sync diff (plan)",
    "sync_diff_query": "sync diff query",
    "sync_push_full": "sync push (all rows)",
    "sync_push_delta": "sync push (1%)",
    "freshness": "freshness",
}


def plot(results_dir: Path) -> Path | None:
    """Wall time and peak RSS per stage against scale, log-log, from every result file."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib; it is in the dev extra): no plot")
        return None
    series: dict[str, dict[str, list[tuple[int, float]]]] = {"wall_s": {}, "peak_rss_mb": {}}
    for path in sorted(results_dir.glob("bench_*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        scale = int(doc.get("scale") or 0)
        for st in doc.get("stages", []):
            if st.get("stage") not in PLOTTED or st.get("status") != "ok":
                continue
            for key in series:
                if st.get(key):
                    series[key].setdefault(st["stage"], []).append((scale, float(st[key])))
    if not any(series["wall_s"].values()):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(14, 7))
    for ax, key, ylabel in ((axes[0], "wall_s", "wall time (s)"), (axes[1], "peak_rss_mb", "peak RSS (MiB)")):
        colours = plt.get_cmap("tab20").colors
        for stage, points in series[key].items():
            points.sort()
            xs, ys = zip(*points, strict=True)
            i = list(PLOTTED).index(stage)
            style = "--" if stage.startswith(("baseline", "sync")) else "-"
            ax.plot(xs, ys, style, marker="o", color=colours[i % len(colours)], label=PLOTTED[stage])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("people generated (scale)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_title("cost against scale")
    axes[1].set_title("peak memory against scale (dbt/sync/Splink processes)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    out = results_dir / "bench_cost_vs_scale.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
