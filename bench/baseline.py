"""Standalone Splink dedupe on exactly the records the project scores: the baseline.

Run as its own process by the harness (``python -m bench.baseline --db ...``), so
its wall time and peak memory are measured like a dbt stage. It reads
``intermediate.int_identity__splink_input`` from the bench warehouse (read-only)
into an in-memory DuckDB and then does what a data scientist would do with plain
Splink and the project's model:

* ``--mode predict``: load ``splink_model.json`` (the project's trained model),
  ``predict`` at the project's threshold, ``cluster_pairwise_predictions_at_threshold``;
* ``--mode train``: build the settings with the project's own ``_settings()`` and
  train with its own ``_train()`` (u by random sampling, EM on three blocking
  rules, the project's ``max_pairs``), then predict and cluster the same way;
* ``--mode blocking``: no scoring, only how many pairs each of the model's blocking
  rules generates (marginal and cumulative, Splink's own blocking analysis) and
  the largest blocks of the rule that generates most: where the pairs come from.

Prints one JSON object (timings of each step, pair and cluster counts).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[1]
SPLINK_MODEL_FILE = "models/intermediate/identity/int_identity__splink_edges.py"
SPLINK_MODEL_JSON = "models/intermediate/identity/splink_model.json"
INPUT_RELATION = "intermediate.int_identity__splink_input"


def project_splink_module(project_dir: Path = PROJECT_DIR) -> ModuleType:
    """The project's dbt Python model, imported as a module (its settings and training)."""
    path = project_dir / SPLINK_MODEL_FILE
    spec = importlib.util.spec_from_file_location("cdp_splink_model", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(
    db: Path,
    mode: str,
    threshold: float,
    project_dir: Path = PROJECT_DIR,
    max_pairs: float = 2e6,
    memory_limit: str | None = None,
    temp_dir: Path | None = None,
) -> dict[str, object]:
    timings: dict[str, float] = {}
    t = time.perf_counter()
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.WARNING)
    timings["import_s"] = time.perf_counter() - t

    t = time.perf_counter()
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    if temp_dir:
        # spills go here, not to ./.tmp in the project
        con.execute(f"set temp_directory = '{temp_dir}'")
    con.execute(f"attach '{db}' as warehouse (read_only)")
    con.execute(f"create table records as select * from warehouse.{INPUT_RELATION}")
    con.execute("detach warehouse")
    (records,) = con.execute("select count(*) from records").fetchall()[0]
    timings["load_s"] = time.perf_counter() - t

    db_api = DuckDBAPI(con)
    model_json = project_dir / SPLINK_MODEL_JSON
    if mode == "blocking":
        return {"mode": mode, "records": int(records), **blocking(con, db_api, model_json, timings)}
    if mode == "train":
        module = project_splink_module(project_dir)
        t = time.perf_counter()
        trained = Path(tempfile.mkdtemp(prefix="bench-splink-")) / "model.json"
        module._train(
            Linker(db_api.register(con.table("records")), module._settings()), str(trained), max_pairs
        )
        timings["train_s"] = time.perf_counter() - t
        model_json = trained

    t = time.perf_counter()
    linker = Linker(db_api.register(con.table("records")), str(model_json))
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    (pairs,) = con.execute(f"select count(*) from {predictions.physical_name}").fetchall()[0]
    timings["predict_s"] = time.perf_counter() - t

    t = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    (cluster_count,) = con.execute(
        f"select count(distinct cluster_id) from {clusters.physical_name}"
    ).fetchall()[0]
    timings["cluster_s"] = time.perf_counter() - t
    return {
        "mode": mode,
        "records": int(records),
        "pairs": int(pairs),
        "clusters": int(cluster_count),
        **{k: round(v, 3) for k, v in timings.items()},
        "predict_cluster_s": round(timings["predict_s"] + timings["cluster_s"], 3),
    }


def blocking(con: duckdb.DuckDBPyConnection, db_api: Any, model_json: Path, timings: dict) -> dict:
    from splink.blocking_analysis import count_comparisons_from_blocking_rules, n_largest_blocks

    settings = json.loads(model_json.read_text(encoding="utf-8"))
    rules = [
        r["blocking_rule"] if isinstance(r, dict) else r
        for r in settings["blocking_rules_to_generate_predictions"]
    ]
    sdf = db_api.register(con.table("records"))
    t = time.perf_counter()
    counted = count_comparisons_from_blocking_rules(
        sdf,
        blocking_rules=rules,
        link_type=settings.get("link_type", "dedupe_only"),
        unique_id_column_name=settings.get("unique_id_column_name", "record_key"),
        record_sample_proportion=1.0,
    )
    timings["count_s"] = time.perf_counter() - t
    per_rule = [
        {
            "rule": c["blocking_rule"],
            "marginal_pairs": int(c["marginal_comparison_count"]),
            "cumulative_pairs": int(c["cumulative_comparison_count"]),
        }
        for c in counted
    ]
    worst = max(per_rule, key=lambda r: r["marginal_pairs"])["rule"]
    largest = n_largest_blocks(
        sdf, blocking_rule=worst, link_type=settings.get("link_type", "dedupe_only"), n_largest=5
    ).as_record_list()
    return {
        "pairs_to_score": per_rule[-1]["cumulative_pairs"] if per_rule else 0,
        "rules": per_rule,
        "largest_blocks_rule": worst,
        "largest_blocks": [{k: v for k, v in b.items()} for b in largest],
        **{k: round(v, 3) for k, v in timings.items()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--mode", choices=("predict", "train", "blocking"), default="predict")
    p.add_argument("--threshold", type=float, default=0.99)
    p.add_argument("--max-pairs", type=float, default=2e6)
    p.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    p.add_argument("--out", type=Path, help="also write the JSON result here")
    p.add_argument("--memory-limit", help="DuckDB memory_limit, as given to dbt (e.g. 8GB)")
    p.add_argument("--temp-dir", type=Path, help="DuckDB temp_directory for spilling")
    args = p.parse_args(argv)
    result = run(
        args.db, args.mode, args.threshold, args.project_dir, args.max_pairs, args.memory_limit, args.temp_dir
    )
    text = json.dumps(result, default=str)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
