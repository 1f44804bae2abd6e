"""Every command end to end on the file destination (in process)."""

from __future__ import annotations

import csv
import hashlib

from .conftest import Project, customer, customers, file_sync, json_lines


def _csv(project: Project, name: str = "hv_file") -> dict[str, dict[str, str]]:
    path = project.dir / "sync_output" / f"{name}.csv"
    with path.open(newline="") as fh:
        return {row["customer_id"]: row for row in csv.DictReader(fh)}


def test_list(project: Project) -> None:
    project.write_syncs(file_sync(), file_sync("off", enabled=False))
    res = project.cli("--json", "list")
    assert res.exit_code == 0, res.output
    data = json_lines(res.stdout)[0]["syncs"]
    assert [s["name"] for s in data] == ["hv_file", "off"]
    assert data[1]["enabled"] is False and data[0]["destination"] == "file"
    text = project.cli("list")
    assert text.exit_code == 0 and "hv_file" in text.stdout


def test_plan_writes_nothing(project: Project) -> None:
    project.set_audience(customers(7))
    project.write_syncs(file_sync())
    before = hashlib.sha256(project.db.read_bytes()).hexdigest()
    res = project.cli("--json", "plan", "--sample", "2")
    assert res.exit_code == 0, res.output
    plan = json_lines(res.stdout)[0]["plans"][0]
    assert plan["counts"]["add"] == 7 and plan["counts"]["change"] == 0
    assert plan["state_exists"] is False
    assert len(plan["sample"]) == 2
    # nothing written anywhere: warehouse file byte-identical, no output, no state schema
    assert hashlib.sha256(project.db.read_bytes()).hexdigest() == before
    assert not (project.dir / "sync_output").exists()
    assert project.query(
        "select count(*) from information_schema.schemata where schema_name = 'cdp_sync'"
    ) == [(0,)]
    # masked sample: no email, phone or name
    for row in plan["sample"]:
        f = row["fields"]
        assert "@example.com" not in f["email"] and f["email"].endswith(".com")
        assert f["first_name"].endswith("***") and f["phone"].startswith("+*")
    detailed = project.cli("plan", "--detailed-exitcode")
    assert detailed.exit_code == 9


def test_run_status_history_reset(project: Project) -> None:
    rows = customers(12)
    project.set_audience(rows)
    project.write_syncs(file_sync(batch_size=5))
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    events = json_lines(res.stdout)
    assert events[0]["event"] == "run_started" and events[0]["planned"]["add"] == 12
    assert [e["rows"] for e in events if e["event"] == "batch"] == [5, 5, 2]
    done = events[-1]
    assert done["event"] == "run_finished" and done["status"] == "success"
    assert done["rows_added"] == 12 and done["rows_failed"] == 0
    out = _csv(project)
    assert set(out) == {r["customer_id"] for r in rows}
    assert out["C00003"]["email"] == rows[2]["email"]

    # change 2 rows, drop 3, add 1: mirror converges
    rows[0]["lifetime_value"] = 9999.5
    rows[1]["first_name"] = "Zed"
    new = rows[3:] + [customer(50)]
    new.insert(0, rows[0])
    new.insert(1, rows[1])
    project.set_audience(new)
    plan = json_lines(project.cli("--json", "plan").stdout)[0]["plans"][0]["counts"]
    assert (plan["add"], plan["change"], plan["remove"]) == (1, 2, 1)
    res = project.cli("run", "hv_file")
    assert res.exit_code == 0, res.output
    assert "1 added, 2 changed, 1 removed" in res.stdout
    out = _csv(project)
    assert set(out) == {r["customer_id"] for r in new}
    assert out["C00001"]["lifetime_value"] == "9999.5"
    assert out["C00002"]["first_name"] == "Zed"

    # idempotent: nothing left to do
    again = json_lines(project.cli("--json", "run").stdout)[-1]
    assert again["rows_planned"] == 0

    status = json_lines(project.cli("--json", "status").stdout)[0]["status"][0]
    assert status["state"]["synced"] == len(new) and status["state"]["pending"] == 0
    assert status["last_run"]["status"] == "success"

    hist = json_lines(project.cli("--json", "history", "hv_file").stdout)[0]["runs"]
    assert len(hist) == 3 and hist[0]["rows_planned"] == 0
    run_id = hist[1]["run_id"]
    rows_out = json_lines(project.cli("--json", "history", "hv_file", "--run", run_id).stdout)[0]
    ops = sorted((r["primary_key"], r["operation"], r["status"]) for r in rows_out["rows"])
    assert ("C00003", "remove", "success") in ops and ("C00050", "add", "success") in ops
    assert len(ops) == 4
    text = project.cli("history", "hv_file", "--run", "last")
    assert text.exit_code == 0

    # reset: state forgotten, next run re-sends everything (idempotent in the file)
    assert project.cli("reset", "hv_file").exit_code == 3  # needs --yes non-interactively
    res = project.cli("--json", "reset", "hv_file", "--yes")
    assert json_lines(res.stdout)[0]["rows"] == len(new)
    plan = json_lines(project.cli("--json", "plan").stdout)[0]["plans"][0]["counts"]
    assert plan["add"] == len(new)
    assert project.cli("run").exit_code == 0
    assert set(_csv(project)) == {r["customer_id"] for r in new}
    assert project.runs("hv_file")[-2]["status"] == "reset"


def test_check_and_exit_codes(project: Project) -> None:
    project.set_audience(customers(3))
    project.write_syncs(file_sync())
    res = project.cli("--json", "check")
    assert res.exit_code == 0, res.output
    data = json_lines(res.stdout)[0]
    assert data["ok"] and data["checks"][0]["source"]["ok"]
    # a missing source relation: warehouse error, exit 4
    project.write_syncs(file_sync(source="audiences.nope"))
    assert project.cli("check").exit_code == 4
    assert project.cli("run").exit_code == 4
    # bad YAML / unknown sync: config error, exit 3
    project.config.write_text("syncs: [{name: 'Bad Name'}]")
    res = project.cli("list")
    assert res.exit_code == 3 and "invalid syncs file" in res.stderr
    project.write_syncs(file_sync())
    res = project.cli("run", "nope")
    assert res.exit_code == 3 and "unknown sync" in res.stderr
    # usage error
    assert project.cli("run", "--failure-threshold", "2").exit_code == 2


def test_duplicate_keys_refused(project: Project) -> None:
    rows = customers(3)
    rows.append(dict(rows[0]))
    project.set_audience(rows)
    project.write_syncs(file_sync())
    res = project.cli("run")
    assert res.exit_code == 4 and "not unique" in res.stderr


def test_target_option_and_env_file(project: Project, monkeypatch) -> None:
    project.set_audience(customers(2))
    project.write_syncs(file_sync())
    # --target picks another output of the profile; its file does not exist
    res = project.cli("--target", "other", "plan")
    assert res.exit_code == 4 and "other.duckdb" in res.stderr
    res = project.cli("--target", "nope", "plan")
    assert res.exit_code == 3
    # the profile's default target comes from CDP_TARGET (rendered with env_var)
    monkeypatch.setenv("CDP_TARGET", "other")
    assert project.cli("plan").exit_code == 4
    monkeypatch.delenv("CDP_TARGET")
    # .env in the project dir is loaded (without overriding the environment)
    monkeypatch.setenv("CDP_SYNC_TEST_DB", "x")
    monkeypatch.delenv("CDP_SYNC_TEST_DB")
    (project.dir / ".env").write_text(f"# test\nexport CDP_SYNC_TEST_DB='{project.db}'\n")
    assert project.cli("plan").exit_code == 0
    (project.dir / ".env").write_text("CDP_SYNC_TEST_DB=/nonexistent/x.duckdb\n")
    assert project.cli("plan").exit_code == 0  # already set by the first load: env wins


def test_modes_on_file(project: Project) -> None:
    rows = customers(4)
    project.set_audience(rows)
    project.write_syncs(
        file_sync("ins", mode="insert-only"),
        file_sync("upd", mode="update-only"),
        file_sync("ups", mode="upsert"),
    )
    assert project.cli("run").exit_code == 0
    assert len(_csv(project, "ins")) == 4 and len(_csv(project, "ups")) == 4
    # update-only never creates: every row is skipped (not found) and not marked synced
    assert not (project.dir / "sync_output" / "upd.csv").exists() or not _csv(project, "upd")
    upd = project.results("upd")
    assert {r["status"] for r in upd} == {"skipped"} and len(upd) == 4
    rows[0]["first_name"] = "Changed"
    project.set_audience(rows[:3])
    plans = {p["sync"]: p["counts"] for p in json_lines(project.cli("--json", "plan").stdout)[0]["plans"]}
    assert plans["ins"]["add"] == 0 and plans["ins"]["change"] == 0  # insert-only ignores changes
    assert plans["ups"]["change"] == 1 and plans["ups"]["remove"] == 0  # upsert never removes
    assert plans["upd"]["change"] == 3  # retried (attempt 2 of 3)
    assert project.cli("run").exit_code == 0
    assert _csv(project, "ins")["C00001"]["first_name"] != "Changed"
    assert _csv(project, "ups")["C00001"]["first_name"] == "Changed"
    assert "C00004" in _csv(project, "ups")


def test_entry_point_and_progress_bar() -> None:
    import io
    import shutil
    import subprocess
    import tomllib

    from cdp_sync import cli
    from cdp_sync.progress import ConsoleReporter
    from rich.console import Console

    from .conftest import ROOT

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["cdp-sync"] == "cdp_sync.cli:main" and callable(cli.main)
    exe = shutil.which("cdp-sync")
    if exe:  # installed as a console script
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
        assert out.stdout.startswith("cdp-sync ")
    buf = io.StringIO()
    rep = ConsoleReporter(Console(file=buf, force_terminal=True, width=100))
    rep.run_started("hv", "r1", {"add": 10, "change": 0, "remove": 0, "delete": 0})
    assert rep._progress is not None
    rep.batch_done("hv", {"rows": 4, "failed_total": 1})
    assert rep._progress.tasks[0].completed == 4
    rep.run_finished("hv", {})
    assert "hv" in buf.getvalue()
    quiet = ConsoleReporter(Console(file=io.StringIO(), force_terminal=False))
    quiet.run_started("hv", "r1", {"add": 10})
    assert quiet._progress is None  # no bar when not a terminal
