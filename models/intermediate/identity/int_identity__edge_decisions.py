"""Every candidate link with the decision the over-merge guards took on it, and the clusters.

Edges are applied strongest first (system ids, then email, phone, device, then
Splink by descending probability). An edge whose merge would give one customer
more distinct values of an identifier type than `max_per_customer` allows is
dropped with that reason, so the lowest-priority edges are the ones that go.
Edges of blocklisted or over-shared identifier values arrive already blocked.

How, at 11M candidate edges (docs/identity.md, "Edge decisions and clusters in one pass"):

1. DuckDB numbers every node (record_key order) and hands over the candidates as Arrow
   integer columns, sorted in the edge order (priority, probability desc, record keys, kind;
   node ids follow record keys). The candidates hold numbers only (edge table, rowid, node
   ids, sort keys): the result joins the decisions back to the edge tables by rowid.
2. The guarded union-find takes the linkable edges one by one in that order, over compact ids
   (the nodes some linkable edge touches), compiled with numba: at 1M people the candidate graph
   is one giant group holding most of the 9M edges, 45 s as a Python loop, about 5 s compiled.
3. The clusters (each node's smallest record_key over accepted edges, singletons included)
   fall out of the same pass and are written to the state table `<this>__clusters`, which
   `int_identity__clusters` reads on DuckDB (no SQL label propagation).
"""

import ast
import contextlib

import duckdb
import numba
import numpy as np
import pyarrow as pa

ACCEPTED, REDUNDANT, OVER_LIMIT, BLOCKED = 0, 1, 2, 3


def _duckdb_connection(session):
    """dbt-duckdb hands Python models a cursor wrapper; follow it to the raw connection."""
    connection = session
    while not isinstance(connection, duckdb.DuckDBPyConnection):
        connection = connection._cursor
    return connection


@numba.njit(cache=False)
def _holds(slots, node, start, count, value):
    """Whether the first `count` slots from `start` of `node` hold `value`."""
    for k in range(count):  # noqa: SIM110 - numba compiles the loop, not a generator
        if slots[node, start + k] == value:
            return True
    return False


@numba.njit(cache=False)
def _fill_slots(nodes, types, values, slots, counts, offsets, limits):
    """Each node's own limited values, distinct per type, into its slots."""
    for i in range(len(nodes)):
        node, t, value = nodes[i], types[i], values[i]
        if _holds(slots, node, offsets[t], counts[node, t], value):
            continue
        if counts[node, t] == limits[t]:
            raise ValueError("a record holds more values of one identifier type than a customer may")
        slots[node, offsets[t] + counts[node, t]] = value
        counts[node, t] += 1


@numba.njit(cache=False)
def _guarded_kernel(left, right, slots, counts, offsets, limits):
    """The guarded union-find over edges in order (local node ids). `slots[node]` holds, per limited
    type t, up to limits[t] value ids at slots[node, offsets[t]:offsets[t] + limits[t]], counts[node, t]
    of them in use; a root's slots are its component's values. Returns per edge its code, and for an
    edge dropped over a limit the type index and the size the merge would have given, plus every
    node's root."""
    node_count = slots.shape[0]
    type_count = counts.shape[1]
    parent = np.arange(node_count)
    codes = np.empty(len(left), np.int8)
    over_type = np.full(len(left), -1, np.int64)
    over_size = np.zeros(len(left), np.int64)
    for position in range(len(left)):
        a = left[position]
        while parent[a] != a:  # find, with path halving
            parent[a] = parent[parent[a]]
            a = parent[a]
        b = right[position]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a == b:
            codes[position] = REDUNDANT
            continue
        violated = -1
        for t in range(type_count):
            count_a, count_b = counts[a, t], counts[b, t]
            if count_a == 0 or count_b == 0:
                continue
            size = count_a
            for j in range(count_b):
                if not _holds(slots, a, offsets[t], count_a, slots[b, offsets[t] + j]):
                    size += 1
            if size > limits[t]:
                violated = t
                over_size[position] = size
                break
        if violated >= 0:
            codes[position] = OVER_LIMIT
            over_type[position] = violated
            continue
        for t in range(type_count):  # b's values join a's
            count_a = counts[a, t]
            for j in range(counts[b, t]):
                value = slots[b, offsets[t] + j]
                if not _holds(slots, a, offsets[t], count_a, value):
                    slots[a, offsets[t] + count_a] = value
                    count_a += 1
            counts[a, t] = count_a
        parent[b] = a
        codes[position] = ACCEPTED
    roots = np.empty(node_count, np.int64)
    for node in range(node_count):
        root = node
        while parent[root] != root:
            root = parent[root]
        roots[node] = root
    return codes, over_type, over_size, roots


def _guarded_pass(node_count, edge_left, edge_right, value_nodes, value_types, value_ids, limits):
    """Sequential guarded union-find over the linkable edges, on compact ids (the nodes they touch).
    Returns their codes, the type index and would-be size of each edge dropped over a limit (-1 and 0
    for the others), and each touched node's root (compact ids mapped back)."""
    touched = np.zeros(node_count, dtype=bool)
    touched[edge_left] = True
    touched[edge_right] = True
    nodes = np.flatnonzero(touched)
    del touched
    local = np.full(node_count, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    local_left, local_right = local[edge_left], local[edge_right]
    local_of_value_node = local[value_nodes]
    in_guarded = local_of_value_node >= 0
    del local
    type_limits = np.array(list(limits.values()), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(type_limits)[:-1]]).astype(np.int64)
    slots = np.full((len(nodes), int(type_limits.sum())), -1, dtype=np.int32)
    counts = np.zeros((len(nodes), len(limits)), dtype=np.int8)
    _fill_slots(
        local_of_value_node[in_guarded].astype(np.int64),
        value_types[in_guarded].astype(np.int64),
        value_ids[in_guarded].astype(np.int32),
        slots,
        counts,
        offsets,
        type_limits,
    )
    codes, over_type, over_size, roots = _guarded_kernel(
        local_left, local_right, slots, counts, offsets, type_limits
    )
    return codes, over_type, over_size, nodes, nodes[roots]


def model(dbt, session):
    dbt.config(materialized="table")
    limits = dbt.config.get("max_per_customer")
    limits = {k: int(v) for k, v in (ast.literal_eval(limits) if isinstance(limits, str) else limits).items()}
    splink_priority = int(dbt.config.get("splink_priority"))
    nodes_sql = dbt.ref("int_identity__nodes").sql_query()
    deterministic = _table_name(dbt.ref("int_identity__deterministic_edges").sql_query())
    splink = _table_name(dbt.ref("int_identity__splink_edges").sql_query())
    identifiers = dbt.ref("int_identity__identifiers").sql_query()
    clusters_table = f'"{dbt.this.database}"."{dbt.this.schema}"."{dbt.this.identifier}__clusters"'
    connection = _duckdb_connection(session)
    decisions, clusters = _edge_decisions(
        connection, nodes_sql, deterministic, splink, identifiers, limits, splink_priority
    )
    connection.register("edge_decisions__clusters", clusters)
    try:
        connection.execute(
            f"create or replace table {clusters_table} as select * from edge_decisions__clusters"
        )
    finally:
        connection.unregister("edge_decisions__clusters")
    return decisions


@contextlib.contextmanager
def _duckdb_memory_lowered(connection, while_python_works="512MB"):
    """DuckDB keeps its buffers (the candidates, cached blocks) up to memory_limit; while the
    Python pass holds its arrays, lower the limit so DuckDB spills them, then restore it. Only
    an optimisation: if DuckDB cannot free enough, the limit stays as it was."""
    (limit,) = connection.sql("select current_setting('memory_limit')").fetchall()[0]
    try:
        connection.execute(f"set memory_limit = '{while_python_works}'")
    except duckdb.Error:
        yield
        return
    try:
        yield
    finally:
        connection.execute(f"set memory_limit = '{limit}'")


def _table_name(relation_sql):
    """The table behind `dbt.ref(...).sql_query()` (dbt-duckdb hands over `select * from <table>`):
    the result is joined back to the edge tables by rowid."""
    prefix = "select * from "
    name = relation_sql[len(prefix) :].strip()
    if relation_sql[: len(prefix)].lower() != prefix or not name or " " in name:
        raise ValueError(f"expected a plain table reference, got: {relation_sql[:200]}")
    return name


def _number_nodes(connection, nodes_sql):
    """Number every node in record_key order, and return the join key the edges use: a 64-bit hash of
    the record_key when no two nodes share one (joins on integers instead of ~25-byte strings), the
    record_key itself otherwise."""
    connection.execute(
        f"""
        create or replace temp table edge_decisions__nodes as
        select
            record_key,
            hash(record_key) as key_hash,
            cast(row_number() over (order by record_key) - 1 as integer) as node_id
        from ({nodes_sql})
        """
    )
    rows, keys, hashes = connection.execute(
        "select count(*), count(distinct record_key), count(distinct key_hash) from edge_decisions__nodes"
    ).fetchall()[0]
    if keys != rows:
        raise ValueError("int_identity__nodes holds a record_key more than once")
    return ("key_hash", "hash({})") if hashes == rows else ("record_key", "{}")


def _edge_decisions(connection, nodes_sql, deterministic, splink, identifiers, limits, splink_priority):
    """`deterministic` and `splink` are table names (the result is joined back by rowid)."""
    limited_types = ", ".join(f"'{t}'" for t in limits)
    node_key, key_of = _number_nodes(connection, nodes_sql)
    kinds = sorted(
        {kind for (kind,) in connection.execute(f"select distinct edge_kind from {deterministic}").fetchall()}
        | {"splink"}
    )
    kind_rank = "case edge_kind " + " ".join(f"when '{k}' then {i}" for i, k in enumerate(kinds)) + " end"

    def ends(alias):
        return f"""
            left join edge_decisions__nodes as left_nodes
                on left_nodes.{node_key} = {key_of.format(alias + ".left_record_key")}
            left join edge_decisions__nodes as right_nodes
                on right_nodes.{node_key} = {key_of.format(alias + ".right_record_key")}"""

    # Only numbers reach the candidates: which table and row an edge comes from, its ends' node
    # ids and its sort keys. The strings stay in the edge tables; the result joins back by rowid.
    try:
        connection.execute(
            f"""
            create or replace temp table edge_decisions__candidates as
            select
                cast(0 as utinyint) as source,
                edges.rowid as source_row,
                left_nodes.node_id as left_id,
                right_nodes.node_id as right_id,
                cast(edges.edge_priority as integer) as edge_priority,
                cast(edges.match_probability as double) as match_probability,
                cast({kind_rank} as utinyint) as kind_rank,
                edges.is_linkable
            from {deterministic} as edges {ends("edges")}
            union all
            select
                cast(1 as utinyint),
                edges.rowid,
                left_nodes.node_id,
                right_nodes.node_id,
                {splink_priority},
                cast(edges.match_probability as double),
                cast({kinds.index("splink")} as utinyint),
                true
            from {splink} as edges {ends("edges")}
            """
        )
        # the guard's order (priority, probability desc, record keys - node ids follow them - and
        # kind) is DuckDB's sort; the edges reach Python in it, as integer columns only
        candidates = connection.sql(
            """
            select source, source_row, left_id, right_id, is_linkable
            from edge_decisions__candidates
            order by
                edge_priority, match_probability desc nulls last, left_id, right_id, kind_rank,
                source, source_row
            """
        ).to_arrow_table()
        connection.execute("drop table if exists edge_decisions__candidates")  # freed before the next reads
        record_keys = connection.sql(
            "select record_key from edge_decisions__nodes order by node_id"
        ).to_arrow_table()
        limited = connection.sql(
            f"""
            select n.node_id, i.identifier_type, i.identifier_value
            from ({identifiers}) as i
            inner join edge_decisions__nodes as n on n.{node_key} = {key_of.format("i.record_key")}
            where i.identifier_type in ({limited_types})
            """
        ).to_arrow_table()
    finally:
        connection.execute("drop table if exists edge_decisions__candidates")
        connection.execute("drop table if exists edge_decisions__nodes")

    node_count = record_keys.num_rows
    if candidates.num_rows and (candidates["left_id"].null_count or candidates["right_id"].null_count):
        raise ValueError("an identity edge names a record that is not in int_identity__nodes")
    sources = candidates.select(["source", "source_row"])
    left = candidates["left_id"].to_numpy(zero_copy_only=False).astype(np.int64)
    right = candidates["right_id"].to_numpy(zero_copy_only=False).astype(np.int64)
    linkable = candidates["is_linkable"].to_numpy(zero_copy_only=False).astype(bool)
    del candidates
    with _duckdb_memory_lowered(connection):
        codes, reasons = _decide_all(left, right, linkable, node_count, limited, limits)
    del left, right, linkable, limited

    decided = _with_decisions(connection, sources, codes, reasons, deterministic, splink, splink_priority)
    clusters = pa.table(
        {
            "record_key": record_keys["record_key"],
            "cluster_key": record_keys["record_key"].take(reasons.cluster_of),
        }
    )
    return decided, clusters


class _Reasons:
    """Why edges were dropped over a limit (`labels`, and per edge index the label's position or -1),
    and the clusters."""

    def __init__(self, by_edge, labels, cluster_of):
        self.by_edge = by_edge
        self.labels = labels
        self.cluster_of = cluster_of


def _codes(column, mapping=None):
    """Integer codes of a string column: dictionary indices, or the dictionary's values mapped."""
    encoded = column.combine_chunks().dictionary_encode() if len(column) else None
    if encoded is None:
        return np.zeros(0, dtype=np.int64)
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if mapping is None:
        return indices
    return np.array([mapping[v] for v in encoded.dictionary.to_pylist()], dtype=np.int64)[indices]


def _decide_all(left, right, linkable, node_count, limited, limits):
    """The edges arrive in the guard's order: an edge's index is its place in that order."""
    codes = np.full(len(left), BLOCKED, dtype=np.int8)
    linkable_order = np.flatnonzero(linkable)  # linkable edges, in edge order
    value_nodes = limited["node_id"].to_numpy(zero_copy_only=False).astype(np.int64)
    value_types = _codes(limited["identifier_type"], {t: i for i, t in enumerate(limits)})
    value_ids = _codes(limited["identifier_value"])
    linkable_codes, over_type, over_size, nodes, roots = _guarded_pass(
        node_count, left[linkable], right[linkable], value_nodes, value_types, value_ids, limits
    )
    codes[linkable_order] = linkable_codes
    # one label per (type, size) that occurred, not one string per dropped edge (3.5M at 1M)
    dropped = over_type >= 0
    stride = int(over_size.max(initial=0)) + 1
    keys, label_of = np.unique(over_type[dropped] * stride + over_size[dropped], return_inverse=True)
    types, type_limits = list(limits), list(limits.values())
    labels = [
        f"would give one customer {key % stride} {types[key // stride]} values "
        f"(limit {type_limits[key // stride]})"
        for key in keys.tolist()
    ]
    by_edge = np.full(len(codes), -1, dtype=np.int32)
    by_edge[linkable_order[dropped]] = label_of
    # each node's smallest node id (ids follow record_key order) among its component; untouched
    # nodes are alone
    smallest = np.full(node_count, node_count, dtype=np.int64)
    np.minimum.at(smallest, roots, nodes)
    cluster_of = np.arange(node_count, dtype=np.int64)
    cluster_of[nodes] = smallest[roots]
    return codes, _Reasons(by_edge, labels, cluster_of)


def _with_decisions(connection, sources, codes, reasons, deterministic, splink, splink_priority):
    """The edges with their decisions, as a DuckDB relation over the edge tables (dbt-duckdb
    materialises it on this connection, so the registered arrays are still there)."""
    reason_ids = np.where(reasons.by_edge >= 0, reasons.by_edge + 1, -1).astype(np.int32)
    reason_ids[codes == REDUNDANT] = 0
    connection.register(
        "edge_decisions__codes",
        pa.table(
            {
                "source": sources["source"],
                "source_row": sources["source_row"],
                "code": pa.array(codes, pa.int8()),
                "reason_id": pa.array(reason_ids, mask=reason_ids < 0),
            }
        ),
    )
    connection.register(
        "edge_decisions__reasons",
        pa.table(
            {
                "reason_id": pa.array(range(len(reasons.labels) + 1), pa.int32()),
                "reason": pa.array(["already in the same customer", *reasons.labels], pa.string()),
            }
        ),
    )
    decision = f"case when d.code <= {REDUNDANT} then 'accepted' else 'dropped' end as decision"
    return connection.sql(
        f"""
        select
            edges.left_record_key,
            edges.right_record_key,
            edges.edge_kind,
            edges.identifier_value,
            cast(edges.edge_priority as integer) as edge_priority,
            cast(edges.match_probability as double) as match_probability,
            cast(edges.match_weight as double) as match_weight,
            {decision},
            case when d.code = {BLOCKED} then cast(edges.block_reason as varchar) else r.reason end
                as decision_reason
        from {deterministic} as edges
        inner join edge_decisions__codes as d on d.source = 0 and d.source_row = edges.rowid
        left join edge_decisions__reasons as r on r.reason_id = d.reason_id
        union all
        select
            edges.left_record_key,
            edges.right_record_key,
            'splink',
            null,
            {splink_priority},
            cast(edges.match_probability as double),
            cast(edges.match_weight as double),
            {decision},
            r.reason
        from {splink} as edges
        inner join edge_decisions__codes as d on d.source = 1 and d.source_row = edges.rowid
        left join edge_decisions__reasons as r on r.reason_id = d.reason_id
        """
    )
