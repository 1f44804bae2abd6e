"""Warehouse access: connections from the dbt profile, and all of cdp-sync's SQL.

Only this module writes SQL. It is written to run on DuckDB and Snowflake:
identifiers are validated and left unquoted (Snowflake upper-cases them like
dbt does), parameters use ``?`` (qmark) on both, types are the common subset
(varchar, integer, double, boolean, timestamp), and the few differences are
dispatched on :attr:`Warehouse.dialect`.

Tables, in the state schema (default ``cdp_sync``):

* ``state_<sync>``: one row per primary key the destination holds or was
  tried for: the hash of the version it last accepted, its id for the row,
  an in-flight marker written *before* a batch is sent, and the failure count
  of the version it rejected.
* ``sync_runs``: one row per run with counts, status and heartbeat.
* ``sync_row_results``: one row per row per run: operation, status, masked
  error message, attempt number.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from cdp_sync.config import Mode, SyncConfig
from cdp_sync.errors import ConfigError, SourceDataError, WarehouseError
from cdp_sync.masking import REDACTOR
from cdp_sync.state import OPS_BY_MODE, Op

log = logging.getLogger(__name__)

PROFILE_NAME = "cdp"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --- the dbt profile ----------------------------------------------------------------


@dataclass
class ProfileTarget:
    name: str
    type: str
    fields: dict[str, Any] = field(repr=False)


class _MissingEnv(Exception):
    pass


def _render(value: Any) -> Any:
    """Render a profile value the way dbt does (env_var, filters, native types)."""
    if isinstance(value, dict):
        return {k: _render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v) for v in value]
    if not isinstance(value, str) or "{{" not in value and "{%" not in value:
        return value
    from jinja2.nativetypes import NativeEnvironment

    env = NativeEnvironment()

    def env_var(name: str, default: Any = None) -> Any:
        if name in os.environ:
            got = os.environ[name]
            if "SECRET" in name or "PASSWORD" in name or "TOKEN" in name:
                REDACTOR.add_secret(got)
            return got
        if default is not None:
            return default
        raise _MissingEnv(name)

    env.globals["env_var"] = env_var
    env.globals["as_bool"] = lambda v: str(v).strip().lower() in {"1", "true", "yes", "on"}
    env.globals["as_number"] = lambda v: float(v) if "." in str(v) else int(v)
    env.globals["as_text"] = str
    env.globals["as_native"] = lambda v: v
    return env.from_string(value).render()


def load_profile_target(
    profiles_dir: Path, target: str | None = None, profile: str = PROFILE_NAME
) -> ProfileTarget:
    path = profiles_dir / "profiles.yml"
    if not path.is_file():
        fallback = Path.home() / ".dbt" / "profiles.yml"
        if fallback.is_file():
            path = fallback
        else:
            raise ConfigError(
                f"no profiles.yml in {profiles_dir} (copy profiles.yml.example, "
                "or set DBT_PROFILES_DIR / --profiles-dir)"
            )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    prof = data.get(profile)
    if not isinstance(prof, dict) or not isinstance(prof.get("outputs"), dict):
        raise ConfigError(f"{path}: profile {profile!r} with outputs not found")
    try:
        name = target or str(_render(prof.get("target", "")) or "")
        if not name:
            raise ConfigError(f"{path}: profile {profile!r} has no target; pass --target")
        outputs = prof["outputs"]
        if name not in outputs:
            raise ConfigError(f"target {name!r} not in profile {profile!r} (have: {', '.join(outputs)})")
        fields = _render(outputs[name])
    except _MissingEnv as exc:
        raise ConfigError(
            f"profile {profile!r} needs environment variable {exc.args[0]} (no default)"
        ) from None
    kind = str(fields.get("type", "")).lower()
    if kind not in {"duckdb", "snowflake"}:
        raise ConfigError(f"target {name!r} has type {kind!r}; cdp-sync supports duckdb, snowflake")
    return ProfileTarget(name=name, type=kind, fields=fields)


# --- connections ----------------------------------------------------------------------


class Warehouse:
    """A DB-API connection plus its dialect. Use as a context manager."""

    def __init__(self, conn: Any, dialect: str, label: str, read_only: bool) -> None:
        self.conn = conn
        self.dialect = dialect
        self.label = label
        self.read_only = read_only
        self._in_tx = False

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # closing twice or after a crash must not mask the real error
        with suppress(Exception):
            self.conn.close()

    def _cursor(self) -> Any:
        return self.conn.cursor() if self.dialect == "snowflake" else self.conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            cur = self._cursor()
            cur.execute(sql, list(params)) if params else cur.execute(sql)
            return cur
        except Exception as exc:
            if _is_db_error(exc):
                first = sql.strip().splitlines()[0][:120]
                raise WarehouseError(f"{self.label}: {exc} (in: {first} ...)") from None
            raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.execute(sql, params)
        names = [d[0].lower() for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Multi-row ``insert ... values`` in chunks (fast on both dialects)."""
        if not rows:
            return
        width = len(columns)
        chunk = max(1, 8000 // width)
        one = "(" + ", ".join("?" for _ in columns) + ")"
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            sql = f"insert into {table} ({', '.join(columns)}) values " + ", ".join(one for _ in part)
            self.execute(sql, [v for row in part for v in row])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield
            return
        self.execute("begin transaction")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._in_tx = False
            with suppress(WarehouseError):
                self.execute("rollback")
            raise
        self._in_tx = False
        self.execute("commit")

    def relation_exists(self, relation: str) -> bool:
        schema, name = _split_relation(relation)
        rows = self.query(
            "select count(*) from information_schema.tables "
            "where upper(table_schema) = upper(?) and upper(table_name) = upper(?)",
            [schema, name],
        )
        return bool(rows and rows[0][0])

    def columns(self, relation: str) -> list[str]:
        cur = self.execute(f"select * from {relation} where 1 = 0")
        return [d[0].lower() for d in cur.description]


def _is_db_error(exc: Exception) -> bool:
    mod = type(exc).__module__
    return mod.startswith(("duckdb", "_duckdb", "snowflake"))


def _split_relation(relation: str) -> tuple[str, str]:
    parts = relation.split(".")
    return (parts[-2] if len(parts) >= 2 else "main"), parts[-1]


def connect(target: ProfileTarget, project_dir: Path, read_only: bool = False) -> Warehouse:
    if target.type == "duckdb":
        import duckdb

        raw = str(target.fields.get("path") or "")
        if not raw:
            raise ConfigError(f"target {target.name!r}: duckdb path is empty")
        path = Path(raw)
        if not path.is_absolute():
            path = project_dir / path
        if not path.is_file():
            raise WarehouseError(
                f"DuckDB file {path} does not exist: run `dbt build` first (or set CDP_DUCKDB_PATH)"
            )
        try:
            conn = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open DuckDB file {path}: {exc}") from None
        return Warehouse(conn, "duckdb", f"duckdb:{path.name}", read_only)
    try:
        import snowflake.connector as sf
    except ImportError:
        raise ConfigError(
            "target is snowflake but snowflake-connector-python is not installed "
            "(pip install 'open-cdp[snowflake]')"
        ) from None
    sf.paramstyle = "qmark"
    f = target.fields
    kwargs: dict[str, Any] = {
        key: str(f[key])
        for key in ("account", "user", "password", "database", "warehouse", "schema", "role")
        if f.get(key) not in (None, "")
    }
    if f.get("password"):
        REDACTOR.add_secret(str(f["password"]))
    if f.get("host"):
        kwargs["host"] = str(f["host"])
    if f.get("port"):
        kwargs["port"] = int(f["port"])
    if f.get("protocol"):
        kwargs["protocol"] = str(f["protocol"])
    kwargs["login_timeout"] = int(f.get("connect_timeout") or 30)
    try:
        conn = sf.connect(**kwargs)
    except Exception as exc:
        raise WarehouseError(f"cannot connect to Snowflake ({target.name}): {exc}") from None
    return Warehouse(conn, "snowflake", f"snowflake:{target.name}", read_only)


# --- the sync's SQL -------------------------------------------------------------------

RUNS_COLUMNS: list[tuple[str, str]] = [
    ("run_id", "varchar"),
    ("sync_name", "varchar"),
    ("destination_type", "varchar"),
    ("mode", "varchar"),
    ("target", "varchar"),
    ("status", "varchar"),
    ("started_at", "timestamp"),
    ("finished_at", "timestamp"),
    ("heartbeat_at", "timestamp"),
    ("host", "varchar"),
    ("pid", "integer"),
    ("rows_planned", "integer"),
    ("rows_added", "integer"),
    ("rows_changed", "integer"),
    ("rows_removed", "integer"),
    ("rows_deleted", "integer"),
    ("rows_succeeded", "integer"),
    ("rows_failed", "integer"),
    ("rows_skipped", "integer"),
    ("rows_exhausted", "integer"),
    ("failure_rate", "double"),
    ("failure_threshold", "double"),
    ("error_message", "varchar"),
]
RESULTS_COLUMNS: list[tuple[str, str]] = [
    ("run_id", "varchar"),
    ("sync_name", "varchar"),
    ("primary_key", "varchar"),
    ("operation", "varchar"),
    ("status", "varchar"),
    ("error_message", "varchar"),
    ("attempt", "integer"),
    ("destination_id", "varchar"),
    ("row_hash", "varchar"),
    ("batch_no", "integer"),
    ("recorded_at", "timestamp"),
]
STATE_COLUMNS: list[tuple[str, str]] = [
    ("primary_key", "varchar not null primary key"),
    ("synced_hash", "varchar"),
    ("destination_id", "varchar"),
    ("synced_at", "timestamp"),
    ("pending_op", "varchar"),
    ("pending_hash", "varchar"),
    ("pending_run_id", "varchar"),
    ("pending_at", "timestamp"),
    ("failed_hash", "varchar"),
    ("attempts", "integer"),
    ("last_error", "varchar"),
    ("last_attempt_at", "timestamp"),
]
BATCH_COLUMNS = [
    "primary_key",
    "operation",
    "target_hash",
    "attempt",
    "status",
    "effect",
    "error_message",
    "destination_id",
]
OP_RANK = {Op.DELETE: 0, Op.REMOVE: 1, Op.CHANGE: 2, Op.ADD: 3}


def _ddl(table: str, columns: list[tuple[str, str]]) -> str:
    cols = ",\n  ".join(f"{name} {typ}" for name, typ in columns)
    return f"create table if not exists {table} (\n  {cols}\n)"


@dataclass
class SourceCheck:
    rows: int
    distinct_keys: int
    null_keys: int


class SyncStore:
    """All SQL for one sync: state, diff, run bookkeeping, results."""

    def __init__(self, wh: Warehouse, sync: SyncConfig, schema: str = "cdp_sync") -> None:
        self.wh = wh
        self.sync = sync
        self.schema = schema
        self.state = f"{schema}.state_{sync.name}"
        self.runs = f"{schema}.sync_runs"
        self.results = f"{schema}.sync_row_results"
        self.work = f"cdp_work_{sync.name}"
        self.batch = f"cdp_batch_{sync.name}"
        self.fields = list(sync.mapping)
        self._tombstone_ok: bool | None = None

    # ---- setup -------------------------------------------------------------------

    def ensure_tables(self) -> None:
        self.wh.execute(f"create schema if not exists {self.schema}")
        self.wh.execute(_ddl(self.runs, RUNS_COLUMNS))
        self.wh.execute(_ddl(self.results, RESULTS_COLUMNS))
        self.wh.execute(_ddl(self.state, STATE_COLUMNS))

    def state_exists(self) -> bool:
        return self.wh.relation_exists(self.state)

    def bookkeeping_exists(self) -> bool:
        return self.wh.relation_exists(self.runs)

    # ---- source ------------------------------------------------------------------

    def check_source(self) -> SourceCheck:
        sync = self.sync
        if not self.wh.relation_exists(sync.source):
            raise WarehouseError(
                f"source relation {sync.source} does not exist in {self.wh.label} "
                "(has the audience model been built?)"
            )
        cols = set(self.wh.columns(sync.source))
        needed = [sync.primary_key, *sync.mapping.values()]
        missing = sorted({c for c in needed if c.lower() not in cols})
        if missing:
            raise SourceDataError(f"{sync.source} has no column(s): {', '.join(missing)}")
        pk = sync.primary_key
        row = self.wh.query(
            f"select count(*), count(distinct {pk}), "
            f"sum(case when {pk} is null then 1 else 0 end) from {sync.source}"
        )[0]
        check = SourceCheck(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))
        if check.distinct_keys != check.rows - check.null_keys:
            raise SourceDataError(
                f"{sync.source}: primary key {pk} is not unique "
                f"({check.rows - check.null_keys} rows, {check.distinct_keys} distinct keys)"
            )
        return check

    def tombstone_available(self) -> bool:
        if self._tombstone_ok is None:
            rel = self.sync.tombstone
            ok = False
            if rel:
                ok = self.wh.relation_exists(rel)
                if ok and self.sync.tombstone_key.lower() not in self.wh.columns(rel):
                    raise SourceDataError(f"{rel} has no column {self.sync.tombstone_key}")
            self._tombstone_ok = ok
        return self._tombstone_ok

    # ---- diff --------------------------------------------------------------------

    def mapping_signature(self) -> str:
        spec = "|".join(f"{k}={v}" for k, v in self.sync.mapping.items())
        return hashlib.md5(f"v1:{self.sync.destination.type}:{spec}".encode()).hexdigest()

    def hash_expr(self, alias: str = "") -> str:
        """md5 over the mapped columns in a canonical text form (nulls explicit)."""
        pre = f"{alias}." if alias else ""
        parts = [f"'{self.mapping_signature()}'"]
        for col in self.sync.mapping.values():
            parts.append(f"coalesce(cast({pre}{col} as varchar), chr(30))")
        return "md5(" + " || chr(31) || ".join(parts) + ")"

    def _diff_sql(self, state_exists: bool) -> str:
        sync = self.sync
        cols = ", ".join(f"{col} as f_{i}" for i, col in enumerate(sync.mapping.values()))
        fcols = ", ".join(f"src.f_{i}" for i in range(len(sync.mapping)))
        if state_exists:
            st = (
                "select primary_key as pk, synced_hash, destination_id, pending_op, "
                f"failed_hash, attempts, last_error from {self.state}"
            )
        else:
            st = (
                "select cast(null as varchar) as pk, cast(null as varchar) as synced_hash, "
                "cast(null as varchar) as destination_id, cast(null as varchar) as pending_op, "
                "cast(null as varchar) as failed_hash, cast(null as integer) as attempts, "
                "cast(null as varchar) as last_error where 1 = 0"
            )
        if self.tombstone_available():
            key = sync.tombstone_key
            tomb = (
                f"select distinct cast({key} as varchar) as pk from {sync.tombstone} where {key} is not null"
            )
        else:
            tomb = "select cast(null as varchar) as pk where 1 = 0"
        return f"""
with src as (
    select cast({sync.primary_key} as varchar) as pk, {cols}, {self.hash_expr()} as row_hash
    from {sync.source}
    where {sync.primary_key} is not null
),
st as ({st}),
tomb as ({tomb}),
joined as (
    select
        coalesce(src.pk, st.pk) as pk,
        src.pk is not null as in_source,
        tomb.pk is not null as erased,
        src.row_hash, st.synced_hash, st.destination_id, st.pending_op, st.failed_hash,
        coalesce(st.attempts, 0) as attempts, st.last_error, {fcols}
    from src
    full outer join st on src.pk = st.pk
    left join tomb on tomb.pk = coalesce(src.pk, st.pk)
),
classified as (
    select joined.*,
        case
            when erased then
                case when synced_hash is not null or pending_op is not null then 'delete' end
            when not in_source then
                case when synced_hash is not null or pending_op in ('add', 'change')
                     then 'remove' end
            when synced_hash is null then 'add'
            when synced_hash <> row_hash or pending_op is not null then 'change'
        end as raw_op
    from joined
),
moded as (
    select classified.*,
        case
            when raw_op = 'add' and '{sync.mode.value}' = 'update-only' then 'change'
            else raw_op
        end as op,
        case
            when raw_op in ('add', 'change') then row_hash
            when raw_op = 'remove' then 'REMOVE'
            when raw_op = 'delete' then 'DELETE'
        end as target_hash
    from classified
)
select moded.*,
    case when op <> 'delete' and failed_hash = target_hash and attempts >= {sync.max_attempts}
         then true else false end as exhausted,
    case when failed_hash = target_hash then attempts + 1 else 1 end as attempt
from moded
"""

    def _op_filter(self) -> str:
        ops = OPS_BY_MODE[self.sync.mode]
        return "op in (" + ", ".join(f"'{op.value}'" for op in ops) + ")"

    def plan_counts(self) -> dict[str, int]:
        """Counts per op (and exhausted / unchanged) without writing anything."""
        diff = self._diff_sql(self.state_exists())
        rows = self.wh.query(
            f"""with d as ({diff})
select
    sum(case when {self._op_filter()} and not exhausted and op = 'add' then 1 else 0 end),
    sum(case when {self._op_filter()} and not exhausted and op = 'change' then 1 else 0 end),
    sum(case when {self._op_filter()} and not exhausted and op = 'remove' then 1 else 0 end),
    sum(case when {self._op_filter()} and not exhausted and op = 'delete' then 1 else 0 end),
    sum(case when {self._op_filter()} and exhausted then 1 else 0 end),
    sum(case when in_source and not erased and (op is null or not ({self._op_filter()}))
             then 1 else 0 end),
    sum(case when in_source and erased then 1 else 0 end)
from d"""
        )[0]
        keys = ["add", "change", "remove", "delete", "exhausted", "unchanged", "erased_in_source"]
        return {k: int(v or 0) for k, v in zip(keys, rows, strict=True)}

    def plan_sample(self, limit: int) -> list[dict[str, Any]]:
        diff = self._diff_sql(self.state_exists())
        fsel = ", ".join(f"f_{i}" for i in range(len(self.fields)))
        rows = self.wh.query_dicts(
            f"""with d as ({diff}),
ranked as (
    select d.*, row_number() over (partition by op order by pk) as rn
    from d where {self._op_filter()} and not exhausted
)
select op, pk, attempt, last_error, {fsel} from ranked where rn <= ? order by op, pk""",
            [limit],
        )
        return [self._row_to_record(r) for r in rows]

    def _row_to_record(self, row: dict[str, Any]) -> dict[str, Any]:
        fields = {name: row.get(f"f_{i}") for i, name in enumerate(self.fields)}
        out = {k: row[k] for k in row if not k.startswith("f_")}
        out["fields"] = fields
        return out

    # ---- run: work set -------------------------------------------------------------

    def housekeeping(self) -> int:
        """Forget failure-tracking rows the destination never held that need no action."""
        tomb = (
            f"or primary_key in (select cast({self.sync.tombstone_key} as varchar) "
            f"from {self.sync.tombstone})"
            if self.tombstone_available()
            else ""
        )
        cur = self.wh.execute(
            f"""delete from {self.state}
where synced_hash is null and pending_op is null
  and (primary_key not in (
        select cast({self.sync.primary_key} as varchar) from {self.sync.source}
        where {self.sync.primary_key} is not null)
       {tomb})"""
        )
        try:
            return int(cur.fetchall()[0][0]) if self.wh.dialect == "duckdb" else 0
        except Exception:
            return 0

    def build_work(self) -> dict[str, int]:
        """Materialise this run's work set (a temp table) and return counts per op."""
        diff = self._diff_sql(True)
        fsel = ", ".join(f"f_{i}" for i in range(len(self.fields)))
        rank = " ".join(f"when '{op.value}' then {r}" for op, r in OP_RANK.items())
        self.wh.execute(f"drop table if exists {self.work}")
        self.wh.execute(
            f"""create temporary table {self.work} as
with d as ({diff})
select row_number() over (order by case op {rank} end, pk) as seq,
    op, pk, target_hash, attempt, destination_id, {fsel}
from d where {self._op_filter()} and not exhausted"""
        )
        self.prepare_batch_table()
        counts = {op.value: 0 for op in Op}
        for op, n in self.wh.query(f"select op, count(*) from {self.work} group by op"):
            counts[str(op)] = int(n)
        diff_counts = self.plan_counts()
        counts["exhausted"] = diff_counts["exhausted"]
        counts["unchanged"] = diff_counts["unchanged"]
        return counts

    def work_ranges(self) -> list[tuple[str, int, int]]:
        rows = self.wh.query(f"select op, min(seq), max(seq) from {self.work} group by op order by min(seq)")
        return [(str(op), int(lo), int(hi)) for op, lo, hi in rows]

    def work_page(self, lo: int, hi: int) -> list[dict[str, Any]]:
        fsel = ", ".join(f"f_{i}" for i in range(len(self.fields)))
        rows = self.wh.query_dicts(
            f"select seq, op, pk, target_hash, attempt, destination_id, {fsel} "
            f"from {self.work} where seq between ? and ? order by seq",
            [lo, hi],
        )
        return [self._row_to_record(r) for r in rows]

    def prepare_batch_table(self) -> None:
        """Created once, outside any transaction (DDL commits on Snowflake)."""
        self.wh.execute(
            f"create temporary table if not exists {self.batch} ("
            "primary_key varchar, operation varchar, target_hash varchar, attempt integer, "
            "status varchar, effect varchar, error_message varchar, destination_id varchar)"
        )

    def _load_batch(self, rows: Sequence[Sequence[Any]]) -> None:
        self.wh.execute(f"delete from {self.batch}")
        self.wh.insert_rows(self.batch, BATCH_COLUMNS, rows)

    def mark_pending(self, run_id: str, items: Sequence[tuple[str, str, str, int]]) -> None:
        """Record (pk, op, target_hash, attempt) as in flight, before anything is sent."""
        now = utcnow()
        with self.wh.transaction():
            self._load_batch([(pk, op, h, a, None, None, None, None) for pk, op, h, a in items])
            self.wh.execute(
                f"""update {self.state} set pending_op = b.operation, pending_hash = b.target_hash,
    pending_run_id = ?, pending_at = ?
from {self.batch} b where {self.state}.primary_key = b.primary_key""",
                [run_id, now],
            )
            self.wh.execute(
                f"""insert into {self.state} (primary_key, pending_op, pending_hash, pending_run_id,
    pending_at, attempts)
select b.primary_key, b.operation, b.target_hash, ?, ?, 0 from {self.batch} b
where not exists (select 1 from {self.state} s where s.primary_key = b.primary_key)""",
                [run_id, now],
            )

    def commit_batch(
        self,
        run_id: str,
        batch_no: int,
        outcomes: Sequence[tuple[str, str, str, int, str, str, str | None, str | None]],
        run_counts: dict[str, Any],
    ) -> None:
        """One transaction: per-row results, state, run counters and heartbeat.

        ``outcomes``: (pk, op, target_hash, attempt, status, effect, error, destination_id)
        where effect is ``synced`` (destination holds target), ``gone`` (it holds
        nothing) or ``rejected`` (it kept what it had; count the attempt).
        """
        now = utcnow()
        with self.wh.transaction():
            self._load_batch(outcomes)
            self.wh.execute(
                f"""insert into {self.results} (run_id, sync_name, primary_key, operation, status,
    error_message, attempt, destination_id, row_hash, batch_no, recorded_at)
select ?, ?, primary_key, operation, status, error_message, attempt, destination_id,
    case when operation in ('add', 'change') then target_hash end, ?, ?
from {self.batch}""",
                [run_id, self.sync.name, batch_no, now],
            )
            self.wh.execute(
                f"""update {self.state} set synced_hash = b.target_hash,
    destination_id = coalesce(b.destination_id, {self.state}.destination_id), synced_at = ?,
    pending_op = null, pending_hash = null, pending_run_id = null, pending_at = null,
    failed_hash = null, attempts = 0, last_error = null, last_attempt_at = ?
from {self.batch} b
where {self.state}.primary_key = b.primary_key and b.effect = 'synced'""",
                [now, now],
            )
            self.wh.execute(
                f"""update {self.state} set pending_op = null, pending_hash = null,
    pending_run_id = null, pending_at = null, failed_hash = b.target_hash,
    attempts = b.attempt, last_error = b.error_message, last_attempt_at = ?
from {self.batch} b
where {self.state}.primary_key = b.primary_key and b.effect = 'rejected'""",
                [now],
            )
            self.wh.execute(
                f"""delete from {self.state} where primary_key in (
    select primary_key from {self.batch} where effect = 'gone')"""
            )
            self._update_run(run_id, run_counts, heartbeat=now)

    # ---- runs ---------------------------------------------------------------------

    def active_runs(self) -> list[dict[str, Any]]:
        return self.wh.query_dicts(
            f"select run_id, host, pid, heartbeat_at, started_at from {self.runs} "
            "where sync_name = ? and status = 'running'",
            [self.sync.name],
        )

    def mark_runs(self, run_ids: Sequence[str], status: str, message: str) -> None:
        for run_id in run_ids:
            self.wh.execute(
                f"update {self.runs} set status = ?, error_message = ?, finished_at = ? where run_id = ?",
                [status, message, utcnow(), run_id],
            )

    def start_run(self, run_id: str, target: str, host: str, pid: int) -> None:
        now = utcnow()
        self.wh.insert_rows(
            self.runs,
            [
                "run_id",
                "sync_name",
                "destination_type",
                "mode",
                "target",
                "status",
                "started_at",
                "heartbeat_at",
                "host",
                "pid",
                "failure_threshold",
            ],
            [
                (
                    run_id,
                    self.sync.name,
                    self.sync.destination.type,
                    self.sync.mode.value,
                    target,
                    "running",
                    now,
                    now,
                    host,
                    pid,
                    self.sync.failure_threshold,
                )
            ],
        )

    def _update_run(self, run_id: str, counts: dict[str, Any], heartbeat: datetime | None = None) -> None:
        allowed = {name for name, _ in RUNS_COLUMNS} - {"run_id", "sync_name"}
        sets = {k: v for k, v in counts.items() if k in allowed}
        if heartbeat is not None:
            sets["heartbeat_at"] = heartbeat
        if not sets:
            return
        assignments = ", ".join(f"{k} = ?" for k in sets)
        self.wh.execute(f"update {self.runs} set {assignments} where run_id = ?", [*sets.values(), run_id])

    def update_run(self, run_id: str, counts: dict[str, Any]) -> None:
        self._update_run(run_id, counts, heartbeat=utcnow())

    # ---- status / history / reset -------------------------------------------------

    def state_summary(self) -> dict[str, int]:
        if not self.state_exists():
            return {"synced": 0, "pending": 0, "failing": 0, "exhausted": 0}
        row = self.wh.query(
            f"""select
    sum(case when synced_hash is not null then 1 else 0 end),
    sum(case when pending_op is not null then 1 else 0 end),
    sum(case when failed_hash is not null and attempts < ? then 1 else 0 end),
    sum(case when failed_hash is not null and attempts >= ? then 1 else 0 end)
from {self.state}""",
            [self.sync.max_attempts, self.sync.max_attempts],
        )[0]
        keys = ["synced", "pending", "failing", "exhausted"]
        return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}

    def failing_rows(self, limit: int) -> list[dict[str, Any]]:
        if not self.state_exists():
            return []
        return self.wh.query_dicts(
            f"""select primary_key, attempts, last_error, last_attempt_at,
    case when failed_hash in ('REMOVE', 'DELETE') then lower(failed_hash) else 'upsert' end
        as operation
from {self.state} where failed_hash is not null order by last_attempt_at desc, primary_key
limit ?""",
            [limit],
        )

    def runs_list(self, limit: int) -> list[dict[str, Any]]:
        if not self.bookkeeping_exists():
            return []
        return self.wh.query_dicts(
            f"select * from {self.runs} where sync_name = ? order by started_at desc limit ?",
            [self.sync.name, limit],
        )

    def run_rows(self, run_id: str, only_failed: bool, limit: int) -> list[dict[str, Any]]:
        if not self.bookkeeping_exists():
            return []
        cond = "and status <> 'success'" if only_failed else ""
        return self.wh.query_dicts(
            f"""select primary_key, operation, status, error_message, attempt, destination_id,
    batch_no, recorded_at
from {self.results} where sync_name = ? and run_id = ? {cond}
order by batch_no, primary_key limit ?""",
            [self.sync.name, run_id, limit],
        )

    def reset(self, failed_only: bool) -> int:
        if not self.state_exists():
            return 0
        if failed_only:
            rows = self.wh.query(f"select count(*) from {self.state} where failed_hash is not null")
            self.wh.execute(
                f"update {self.state} set failed_hash = null, attempts = 0, last_error = null "
                "where failed_hash is not null"
            )
            return int(rows[0][0])
        rows = self.wh.query(f"select count(*) from {self.state}")
        self.wh.execute(f"drop table {self.state}")
        return int(rows[0][0])


def mode_ops(mode: Mode) -> list[str]:
    return [op.value for op in OPS_BY_MODE[mode]]
