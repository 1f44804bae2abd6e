"""Smoke test of the benchmark harness: a tiny end-to-end run writes its results and plot.

Quick mode keeps it near a minute: no per-stage builds, `dbt build` without
its data and unit tests, no train baseline, no verification rebuild, no
freshness. The rest runs for real: generation, the held-back delta, the full
build, the Splink baseline, the sync push/diff/push to the loopback webhook and
the incremental build.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from bench import run as bench_run  # noqa: E402


def test_harness_end_to_end_writes_results_and_plot(tmp_path: Path) -> None:
    results = tmp_path / "results"
    code = bench_run.main(
        [
            "--scale",
            "300",
            "--quick",
            "--warehouse-dir",
            str(tmp_path / "warehouse"),
            "--results-dir",
            str(results),
            "--stage-timeout",
            "600",
        ]
    )
    assert code == 0
    doc = json.loads((results / "bench_300.json").read_text())
    stages = {s["stage"]: s for s in doc["stages"]}
    for stage in ("generate", "full_build", "baseline_predict", "sync_diff", "incremental"):
        assert stages[stage]["status"] == "ok", stages[stage]
        assert stages[stage]["wall_s"] > 0
        assert stages[stage]["peak_rss_mb"] > 10
    # the sync diff found exactly the 1 % change the harness made
    assert (
        stages["sync_diff"]["extra"]["counts"]["change"] == stages["sync_diff"]["extra"]["expected"]["change"]
    )
    # standalone Splink scored the same pairs as the model inside dbt
    assert stages["baseline_predict"]["extra"]["same_pairs_as_dbt"] is True
    assert {r["name"] for r in doc["ratios"]} >= {"incremental run / full build"}
    assert (results / "bench_300.csv").read_text().count("\n") == len(doc["stages"]) + 1
    png = results / "bench_cost_vs_scale.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
