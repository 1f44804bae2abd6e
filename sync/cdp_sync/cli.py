"""``cdp-sync``: the command line. Thin: parse options, call the engine, print.

Errors are caught here and only here: each :class:`cdp_sync.errors.SyncError`
becomes a masked message and its exit code (see :mod:`cdp_sync.errors`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cdp_sync import __version__
from cdp_sync.config import (
    DEFAULT_CONFIG,
    SyncConfig,
    SyncsFile,
    find_project_dir,
    load_env_file,
    load_syncs,
)
from cdp_sync.destinations import build_destination
from cdp_sync.engine import SyncRunner, plan
from cdp_sync.errors import (
    EXIT_INTERRUPTED,
    ConfigError,
    PlanHasChanges,
    SyncError,
    SyncLocked,
    ThresholdExceeded,
)
from cdp_sync.masking import REDACTOR, RedactingFilter
from cdp_sync.progress import ConsoleReporter, JsonLinesReporter, Reporter
from cdp_sync.warehouse import ProfileTarget, SyncStore, Warehouse, connect, load_profile_target

app = typer.Typer(
    name="cdp-sync",
    help="Reverse-ETL: push audience models from the warehouse to marketing tools.",
    epilog=(
        "Exit codes: 0 ok, 1 internal error, 2 usage, 3 config, 4 warehouse, "
        "5 destination auth, 6 destination unavailable, 7 failure threshold exceeded, "
        "8 sync locked, 9 plan has changes (--detailed-exitcode), 130 interrupted. "
        "Docs: docs/sync.md"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
log = logging.getLogger("cdp_sync")


@dataclass
class Ctx:
    project_dir: Path
    config_path: Path
    profiles_dir: Path
    target: str | None
    json: bool
    verbose: bool
    out: Console = field(
        default_factory=lambda: Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    )
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True))
    _syncs: SyncsFile | None = None
    _profile: ProfileTarget | None = None

    @property
    def syncs(self) -> SyncsFile:
        if self._syncs is None:
            self._syncs = load_syncs(self.config_path)
        return self._syncs

    @property
    def profile(self) -> ProfileTarget:
        if self._profile is None:
            self._profile = load_profile_target(self.profiles_dir, self.target)
        return self._profile

    def connect(self, read_only: bool = False) -> Warehouse:
        return connect(self.profile, self.project_dir, read_only=read_only)

    def select(self, names: list[str] | None, all_: bool = False) -> list[SyncConfig]:
        if names:
            return [self.syncs.get(n) for n in names]
        chosen = [s for s in self.syncs.syncs if s.enabled or all_]
        if not chosen:
            raise ConfigError("no enabled syncs in " + str(self.config_path))
        return chosen

    def emit(self, obj: Any) -> None:
        """A JSON document (or line) on stdout."""
        sys.stdout.write(json.dumps(obj, default=str) + "\n")
        sys.stdout.flush()


def _setup_logging(verbose: bool) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cdp_sync", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._cdp_sync = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("snowflake").setLevel(logging.WARNING)


def _ctx(typer_ctx: typer.Context) -> Ctx:
    obj = typer_ctx.find_root().obj
    assert isinstance(obj, Ctx)
    return obj


def _fail(ctx: Ctx, exc: BaseException, sync: str | None = None) -> int:
    """Print a masked error; return its exit code."""
    if isinstance(exc, KeyboardInterrupt):
        code, kind, message = EXIT_INTERRUPTED, "interrupted", "interrupted"
    elif isinstance(exc, SyncError):
        code, kind, message = exc.exit_code, exc.kind, exc.message
    else:
        code, kind, message = 1, "internal_error", f"{type(exc).__name__}: {exc}"
    message = REDACTOR.scrub(message)
    if ctx.json:
        ctx.emit({"event": "error", "sync": sync, "error": kind, "message": message, "exit_code": code})
    else:
        prefix = f"{sync}: " if sync else ""
        ctx.err.print(f"[bold red]error[/] {prefix}{message}", markup=True)
    if ctx.verbose and not isinstance(exc, SyncError | KeyboardInterrupt):
        ctx.err.print(REDACTOR.scrub("".join(traceback.format_exception(exc))), markup=False)
    return code


@contextmanager
def _edge(ctx: Ctx) -> Iterator[None]:
    """The CLI edge: turn any error into a message and an exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except BaseException as exc:  # noqa: BLE001 - this is the one place errors are caught
        raise typer.Exit(_fail(ctx, exc)) from None


# --- global options ------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cdp-sync {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    typer_ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", envvar="CDP_SYNC_CONFIG", help="syncs YAML [sync/syncs.yml]"),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="dbt profile target (duckdb, snowflake) [profile's]"),
    ] = None,
    profiles_dir: Annotated[
        Path | None,
        typer.Option("--profiles-dir", envvar="DBT_PROFILES_DIR", help="dir of profiles.yml"),
    ] = None,
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", envvar="DBT_PROJECT_DIR", help="dbt project dir"),
    ] = None,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="load tokens from this file [.env]")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="more logging")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print version")
    ] = False,
) -> None:
    """Reverse-ETL sync CLI. Exit codes: 0 ok, 1 internal error, 2 usage, 3 config,
    4 warehouse, 5 destination auth, 6 destination unavailable, 7 failure threshold
    exceeded, 8 sync locked, 9 plan has changes (--detailed-exitcode), 130 interrupted."""
    _setup_logging(verbose)
    proj = (project_dir or find_project_dir()).resolve()
    dot_env = env_file or proj / ".env"
    if env_file is not None and not env_file.is_file():
        typer.echo(f"error: env file {env_file} not found", err=True)
        raise typer.Exit(ConfigError.exit_code)
    load_env_file(dot_env)
    cfg = config if config is not None else proj / DEFAULT_CONFIG
    if not cfg.is_absolute() and config is None:
        cfg = proj / cfg
    prof = profiles_dir.resolve() if profiles_dir else proj
    typer_ctx.obj = Ctx(
        project_dir=proj,
        config_path=cfg,
        profiles_dir=prof,
        target=target,
        json=json_out,
        verbose=verbose,
    )


Names = Annotated[list[str] | None, typer.Argument(help="sync names [all enabled syncs]")]


# --- list ------------------------------------------------------------------------------------


@app.command("list")
def list_cmd(typer_ctx: typer.Context) -> None:
    """List the syncs declared in the syncs YAML."""
    ctx = _ctx(typer_ctx)
    with _edge(ctx):
        rows = [
            {
                "name": s.name,
                "enabled": s.enabled,
                "source": s.source,
                "destination": s.destination.type,
                "mode": s.mode.value,
                "primary_key": s.primary_key,
                "fields": list(s.mapping),
                "batch_size": s.effective_batch_size,
                "failure_threshold": s.failure_threshold,
                "max_attempts": s.max_attempts,
                "description": s.description,
            }
            for s in ctx.syncs.syncs
        ]
        if ctx.json:
            ctx.emit({"syncs": rows})
            return
        table = Table("name", "enabled", "source", "destination", "mode", "key", "fields")
        for r in rows:
            table.add_row(
                r["name"],
                "yes" if r["enabled"] else "no",
                r["source"],
                r["destination"],
                r["mode"],
                r["primary_key"],
                str(len(r["fields"])),
            )
        ctx.out.print(table)


# --- plan ------------------------------------------------------------------------------------


@app.command("plan")
def plan_cmd(
    typer_ctx: typer.Context,
    names: Names = None,
    sample: Annotated[int, typer.Option("--sample", help="sample rows per operation")] = 5,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="exit 9 when there are changes")
    ] = False,
) -> None:
    """Dry run: rows that would be added, changed, removed (masked sample). Writes nothing."""
    ctx = _ctx(typer_ctx)
    with _edge(ctx):
        syncs = ctx.select(names)
        results = []
        with ctx.connect(read_only=True) as wh:
            for sync in syncs:
                results.append(plan(sync, wh, ctx.syncs.state_schema, sample))
        if ctx.json:
            ctx.emit({"plans": results})
        else:
            for p in results:
                _print_plan(ctx, p)
        changes = sum(p["counts"][k] for p in results for k in ("add", "change", "remove", "delete"))
        if detailed_exitcode and changes:
            raise PlanHasChanges(f"{changes} row(s) would be sent")


def _print_plan(ctx: Ctx, p: dict[str, Any]) -> None:
    c = p["counts"]
    ctx.out.print(
        f"[bold]{p['sync']}[/] ({p['source']} -> {p['destination']}, {p['mode']}): "
        f"[green]+{c['add']} add[/]  [yellow]~{c['change']} change[/]  "
        f"[red]-{c['remove']} remove[/]  [magenta]x{c['delete']} delete (erasure)[/]  "
        f"{c['unchanged']} unchanged  {c['exhausted']} given up",
        markup=True,
    )
    for warning in p["warnings"]:
        ctx.out.print(f"  [yellow]warning[/] {warning}", markup=True)
    if p["sample"]:
        fields = sorted({k for row in p["sample"] for k in row["fields"]})
        table = Table("op", "primary key", "attempt", *fields, title="sample (masked)")
        for row in p["sample"]:
            table.add_row(
                row["op"],
                str(row["primary_key"]),
                str(row["attempt"]),
                *[_cell(row["fields"].get(f)) for f in fields],
            )
        ctx.out.print(table)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


# --- run ---------------------------------------------------------------------------------------


@app.command("run")
def run_cmd(
    typer_ctx: typer.Context,
    names: Names = None,
    failure_threshold: Annotated[
        float | None,
        typer.Option("--failure-threshold", min=0.0, max=1.0, help="override (0-1)"),
    ] = None,
    max_attempts: Annotated[
        int | None, typer.Option("--max-attempts", min=1, help="override tries per row")
    ] = None,
    force_unlock: Annotated[
        bool, typer.Option("--force-unlock", help="take over a run left 'running'")
    ] = False,
) -> None:
    """Push changes to the destinations. Exit 7 when a sync's failure rate exceeds
    its threshold; every sync named is run even if an earlier one fails."""
    ctx = _ctx(typer_ctx)
    codes: list[int] = []
    with _edge(ctx):
        syncs = ctx.select(names)
        profile = ctx.profile
    for sync in syncs:
        overrides: dict[str, Any] = {}
        if failure_threshold is not None:
            overrides["failure_threshold"] = failure_threshold
        if max_attempts is not None:
            overrides["max_attempts"] = max_attempts
        if overrides:
            sync = sync.model_copy(update=overrides)
        try:
            summary = _run_one(ctx, sync, profile.name, force_unlock)
            if not ctx.json:
                _print_summary(ctx, sync, summary)
            if summary["threshold_exceeded"]:
                raise ThresholdExceeded(summary["error"])
            codes.append(0)
        except BaseException as exc:  # noqa: BLE001 - CLI edge, per sync
            codes.append(_fail(ctx, exc, sync.name))
            if isinstance(exc, KeyboardInterrupt):
                break
    failed = [c for c in codes if c]
    if failed:
        raise typer.Exit(failed[0])


def _run_one(ctx: Ctx, sync: SyncConfig, target: str, force: bool) -> dict[str, Any]:
    reporter: Reporter = JsonLinesReporter() if ctx.json else ConsoleReporter(ctx.err)
    dest = build_destination(sync, ctx.project_dir)
    with ctx.connect() as wh:
        runner = SyncRunner(sync, wh, dest, reporter, schema=ctx.syncs.state_schema, target_name=target)
        return runner.run(force_unlock=force)


def _print_summary(ctx: Ctx, sync: SyncConfig, s: dict[str, Any]) -> None:
    colour = "green" if s["status"] == "success" else "red"
    ctx.out.print(
        f"[bold]{sync.name}[/] run {s['run_id']}: [{colour}]{s['status']}[/] - "
        f"{s['rows_added']} added, {s['rows_changed']} changed, {s['rows_removed']} removed, "
        f"{s['rows_deleted']} deleted, {s['rows_failed']} failed, {s['rows_skipped']} skipped"
        + (f", {s['rows_exhausted']} given up" if s["rows_exhausted"] else "")
        + f" (failure rate {s['failure_rate']:.1%}, threshold {s['failure_threshold']:.1%})",
        markup=True,
    )


# --- status / history ------------------------------------------------------------------------


@app.command("status")
def status_cmd(typer_ctx: typer.Context, names: Names = None) -> None:
    """Last run and state of each sync (rows synced, in flight, failing, given up)."""
    ctx = _ctx(typer_ctx)
    with _edge(ctx):
        syncs = ctx.select(names, all_=True)
        out = []
        with ctx.connect(read_only=True) as wh:
            for sync in syncs:
                store = SyncStore(wh, sync, ctx.syncs.state_schema)
                runs = store.runs_list(1)
                out.append(
                    {
                        "sync": sync.name,
                        "enabled": sync.enabled,
                        "destination": sync.destination.type,
                        "mode": sync.mode.value,
                        "state": store.state_summary(),
                        "last_run": runs[0] if runs else None,
                        "failing_rows": store.failing_rows(10),
                    }
                )
        if ctx.json:
            ctx.emit({"status": out})
            return
        table = Table("sync", "last run", "status", "finished", "synced", "in flight", "failing", "given up")
        for item in out:
            run = item["last_run"] or {}
            st = item["state"]
            table.add_row(
                item["sync"],
                str(run.get("run_id") or "-"),
                str(run.get("status") or "never run"),
                str(run.get("finished_at") or "-"),
                str(st["synced"]),
                str(st["pending"]),
                str(st["failing"]),
                str(st["exhausted"]),
            )
        ctx.out.print(table)
        for item in out:
            for row in item["failing_rows"]:
                ctx.out.print(
                    f"  {item['sync']} {row['primary_key']} ({row['operation']}, "
                    f"{row['attempts']} attempts): {row['last_error']}"
                )


@app.command("history")
def history_cmd(
    typer_ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="sync name")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 20,
    run_id: Annotated[str | None, typer.Option("--run", help="per-row outcomes of a run")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="only rows that did not succeed")] = False,
) -> None:
    """Past runs of a sync, or (with --run) the outcome of every row in one run."""
    ctx = _ctx(typer_ctx)
    with _edge(ctx):
        sync = ctx.syncs.get(name)
        with ctx.connect(read_only=True) as wh:
            store = SyncStore(wh, sync, ctx.syncs.state_schema)
            if run_id:
                if run_id == "last":
                    runs = store.runs_list(1)
                    if not runs:
                        raise ConfigError(f"sync {name} has no runs")
                    run_id = str(runs[0]["run_id"])
                rows = store.run_rows(run_id, failed, limit)
                if ctx.json:
                    ctx.emit({"sync": name, "run_id": run_id, "rows": rows})
                    return
                table = Table("primary key", "op", "status", "attempt", "destination id", "error")
                for r in rows:
                    table.add_row(
                        str(r["primary_key"]),
                        str(r["operation"]),
                        str(r["status"]),
                        str(r["attempt"]),
                        _cell(r["destination_id"]),
                        _cell(r["error_message"]),
                    )
                ctx.out.print(table)
                return
            runs = store.runs_list(limit)
        if ctx.json:
            ctx.emit({"sync": name, "runs": runs})
            return
        table = Table("run", "status", "started", "added", "changed", "removed", "deleted", "failed", "error")
        for r in runs:
            table.add_row(
                str(r["run_id"]),
                str(r["status"]),
                str(r["started_at"]),
                *[
                    _cell(r[k])
                    for k in (
                        "rows_added",
                        "rows_changed",
                        "rows_removed",
                        "rows_deleted",
                        "rows_failed",
                    )
                ],
                _cell(r["error_message"]),
            )
        ctx.out.print(table)


# --- reset -----------------------------------------------------------------------------------


@app.command("reset")
def reset_cmd(
    typer_ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="sync name")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    failed_only: Annotated[
        bool, typer.Option("--failed-only", help="only clear failure counts (retry given-up rows)")
    ] = False,
) -> None:
    """Forget a sync's state: the next run sends every row again (a full resync)."""
    ctx = _ctx(typer_ctx)
    with _edge(ctx):
        sync = ctx.syncs.get(name)
        what = "failure counts" if failed_only else "all state (next run is a full resync)"
        if not yes:
            if ctx.json or not sys.stdin.isatty():
                raise ConfigError("reset needs --yes when not run interactively")
            warn = (
                " Rows that already left the audience will not be removed downstream."
                if sync.mode.value == "mirror" and not failed_only
                else ""
            )
            if not typer.confirm(f"Forget {what} of sync {name}?{warn}"):
                raise typer.Exit(1)
        with ctx.connect() as wh:
            store = SyncStore(wh, sync, ctx.syncs.state_schema)
            store.ensure_tables()
            if store.active_runs():
                raise SyncLocked(f"sync {name} has a run in progress; not resetting")
            count = store.reset(failed_only)
            run_id = f"reset-{uuid.uuid4().hex[:12]}"
            store.start_run(run_id, ctx.profile.name, socket.gethostname(), os.getpid())
            store.update_run(
                run_id,
                {
                    "status": "reset",
                    "finished_at": None,
                    "error_message": f"{what} reset: {count} row(s) forgotten",
                },
            )
        if ctx.json:
            ctx.emit({"sync": name, "reset": "failed_only" if failed_only else "all", "rows": count})
        else:
            ctx.out.print(f"{name}: {what} reset ({count} row(s)).")


# --- check -----------------------------------------------------------------------------------


@app.command("check")
def check_cmd(typer_ctx: typer.Context, names: Names = None) -> None:
    """Check the warehouse, the source models, credentials and destination connectivity.
    Changes nothing."""
    ctx = _ctx(typer_ctx)
    codes: list[int] = []
    results: list[dict[str, Any]] = []
    with _edge(ctx):
        syncs = ctx.select(names)
    wh: Warehouse | None = None
    try:
        try:
            wh = ctx.connect(read_only=True)
            warehouse = {"ok": True, "detail": f"{ctx.profile.name}: {wh.label}"}
        except SyncError as exc:
            warehouse = {"ok": False, "detail": REDACTOR.scrub(exc.message)}
            codes.append(exc.exit_code)
        for sync in syncs:
            item: dict[str, Any] = {"sync": sync.name, "warehouse": warehouse}
            item["source"] = _probe(codes, lambda s=sync: _check_source(ctx, wh, s))
            item["destination"] = _probe(codes, lambda s=sync: _check_destination(ctx, s))
            results.append(item)
    finally:
        if wh is not None:
            wh.close()
    if ctx.json:
        ctx.emit({"checks": results, "ok": not codes})
    else:
        for item in results:
            for part in ("warehouse", "source", "destination"):
                res = item[part]
                mark = "[green]ok[/]" if res["ok"] else "[red]FAIL[/]"
                ctx.out.print(f"{item['sync']:<32} {part:<12} {mark} {res['detail']}", markup=True)
    if codes:
        raise typer.Exit(codes[0])


def _probe(codes: list[int], fn: Callable[[], str]) -> dict[str, Any]:
    try:
        return {"ok": True, "detail": REDACTOR.scrub(fn())}
    except SyncError as exc:
        codes.append(exc.exit_code)
        return {"ok": False, "detail": REDACTOR.scrub(exc.message)}
    except Exception as exc:  # noqa: BLE001 - reported per check, not fatal
        codes.append(1)
        return {"ok": False, "detail": REDACTOR.scrub(f"{type(exc).__name__}: {exc}")}


def _check_source(ctx: Ctx, wh: Warehouse | None, sync: SyncConfig) -> str:
    if wh is None:
        raise ConfigError("no warehouse connection")
    store = SyncStore(wh, sync, ctx.syncs.state_schema)
    check = store.check_source()
    tomb = (
        "tombstone ok"
        if store.tombstone_available()
        else f"tombstone {sync.tombstone} missing (erasures skipped)"
        if sync.tombstone
        else "no tombstone"
    )
    return f"{sync.source}: {check.rows} rows, key unique, columns present; {tomb}"


def _check_destination(ctx: Ctx, sync: SyncConfig) -> str:
    dest = build_destination(sync, ctx.project_dir)
    try:
        return dest.check()
    finally:
        dest.close()


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="cdp-sync")
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
