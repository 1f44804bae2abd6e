"""Every candidate link with the decision the over-merge guards took on it, and the clusters.

Edges are applied strongest first (system ids, then email, phone, device, then
Splink by descending probability). An edge whose merge would give one customer
more distinct values of an identifier type than `max_per_customer` allows is
dropped with that reason, so the lowest-priority edges are the ones that go.
Edges of blocklisted or over-shared identifier values arrive already blocked.

How, at 11M candidate edges (docs/identity.md, "Edge decisions and clusters in one pass"):

1. DuckDB numbers every node (record_key order) and hands over the candidates as Arrow;
   the edge order (priority, probability desc, record keys, kind) is a numpy lexsort
   over integer columns, which is the order of record keys because node ids are.
2. The plain pass: which linkable edges merge two groups in edge order (Kruskal) is the
   unique minimum spanning forest by edge order, found by Boruvka rounds in numpy. Every
   other linkable edge is 'already in the same customer'.
3. In a group whose records together break no per-customer limit the guard can never fire
   (a customer is a subset of its group), so step 2 is final there. Only the edges of the
   groups that break a limit go through the sequential guarded union-find, over compact ids.
4. The clusters (each node's smallest record_key over accepted edges, singletons included)
   fall out of the same pass and are written to the state table `<this>__clusters`, which
   `int_identity__clusters` reads on DuckDB (no SQL label propagation).
"""

import ast
import contextlib

import duckdb
import numpy as np
import pyarrow as pa

ACCEPTED, REDUNDANT, OVER_LIMIT, BLOCKED = 0, 1, 2, 3


def _duckdb_connection(session):
    """dbt-duckdb hands Python models a cursor wrapper; follow it to the raw connection."""
    connection = session
    while not isinstance(connection, duckdb.DuckDBPyConnection):
        connection = connection._cursor
    return connection


class _Components:
    """Union-find over integer node ids that also keeps, per root, the limited identifier values.

    Memory matters here (millions of nodes at 1M people): the values are one list per
    identifier type indexed by node, holding None, a single value id, or a frozenset of them
    (never more than the type's limit, since a merge that would exceed it is refused)."""

    def __init__(self, node_count, values, limits):
        self.parent = list(range(node_count))
        self.values = values  # [per limited type: list over nodes of None | int | frozenset]
        self.limits = list(limits.items())

    def find(self, node):
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def violation(self, left, right):
        for (identifier_type, limit), by_node in zip(self.limits, self.values, strict=True):
            a, b = by_node[left], by_node[right]
            if a is None or b is None:
                continue
            merged = _merge(a, b)
            size = 1 if isinstance(merged, int) else len(merged)
            if size > limit:
                return f"would give one customer {size} {identifier_type} values (limit {limit})"
        return None

    def union(self, left, right):
        for by_node in self.values:
            a, b = by_node[left], by_node[right]
            if b is not None:
                by_node[left] = b if a is None else _merge(a, b)
                by_node[right] = None
        self.parent[right] = left


def _merge(a, b):
    """Union of two value holders (an int is a set of one)."""
    if isinstance(a, int) and isinstance(b, int):
        return a if a == b else frozenset((a, b))
    return (frozenset((a,)) if isinstance(a, int) else a) | (frozenset((b,)) if isinstance(b, int) else b)


def _decide(left_ids, right_ids, components, codes, reasons, offset):
    """The guarded pass over one chunk of edges in order: each accepted, redundant or dropped
    over a limit (codes written in place, reasons of drops by edge position)."""
    parent, violation, union = components.parent, components.violation, components.union
    for position, (left, right) in enumerate(zip(left_ids, right_ids, strict=True), start=offset):
        while parent[left] != left:  # find, with path halving
            parent[left] = parent[parent[left]]
            left = parent[left]
        while parent[right] != right:
            parent[right] = parent[parent[right]]
            right = parent[right]
        if left == right:
            codes[position] = REDUNDANT
            continue
        reason = violation(left, right)
        if reason is None:
            union(left, right)
            codes[position] = ACCEPTED
        else:
            codes[position] = OVER_LIMIT
            reasons[position] = reason


def _spanning_forest(node_count, left, right):
    """Kruskal over edges already in order, as Boruvka rounds: returns, per edge, whether it
    merged two components when its turn came, and every node's component root.

    With a strict total order the minimum spanning forest is unique, so the edges Boruvka picks
    (each component's first outgoing edge, every round) are exactly those Kruskal accepts."""
    label = np.arange(node_count, dtype=np.int64)
    merged = np.zeros(len(left), dtype=bool)
    position = np.arange(len(left), dtype=np.int64)
    a, b = left.astype(np.int64), right.astype(np.int64)
    none = np.iinfo(np.int64).max
    while True:
        live = a != b
        if not live.all():
            position, a, b = position[live], a[live], b[live]
        if len(position) == 0:
            break
        # each component's first live edge (positions are in edge order)
        order = np.arange(len(position), dtype=np.int64)
        best = np.full(node_count, none, dtype=np.int64)
        np.minimum.at(best, a, order)
        np.minimum.at(best, b, order)
        components = np.flatnonzero(best != none)
        chosen = best[components]
        merged[position[chosen]] = True
        # hook every component to the other end of its edge; a pair that chose the same edge
        # points at each other, and the smaller one becomes the root
        other = np.where(a[chosen] == components, b[chosen], a[chosen])
        parent = np.arange(node_count, dtype=np.int64)
        parent[components] = other
        mutual = (parent[other] == components) & (components < other)
        parent[components[mutual]] = components[mutual]
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        label = parent[label]
        a, b = parent[a], parent[b]
    return merged, label


def _smallest_member(label):
    """Each node's smallest node id in its component (ids follow record_key order)."""
    smallest = np.full(len(label), len(label), dtype=np.int64)
    np.minimum.at(smallest, label, np.arange(len(label), dtype=np.int64))
    return smallest[label]


def _unsafe_groups(group, value_nodes, value_types, value_ids, limits):
    """Groups whose records together hold more values of a limited type than its limit."""
    unsafe = []
    value_count = int(value_ids.max()) + 1 if len(value_ids) else 1
    for type_index, limit in enumerate(limits.values()):
        of_type = value_types == type_index
        pairs = np.unique(group[value_nodes[of_type]] * value_count + value_ids[of_type])
        groups, counts = np.unique(pairs // value_count, return_counts=True)
        unsafe.append(groups[counts > limit])
    return np.unique(np.concatenate(unsafe)) if unsafe else np.zeros(0, dtype=np.int64)


def _guarded_pass(edge_left, edge_right, guarded_edges, value_nodes, value_types, value_ids, limits):
    """Sequential guarded union-find over the edges of groups that break a limit, on compact ids.
    Returns their codes and reasons (by position), and each touched node's root (compact ids
    mapped back). Edges go to Python lists a chunk at a time, to bound memory."""
    nodes, inverse = np.unique(
        np.concatenate([edge_left[guarded_edges], edge_right[guarded_edges]]), return_inverse=True
    )
    local_left, local_right = np.split(inverse, 2)
    local_of_value_node = np.searchsorted(nodes, value_nodes)
    in_guarded = (local_of_value_node < len(nodes)) & (
        nodes[np.minimum(local_of_value_node, len(nodes) - 1)] == value_nodes
    )
    values = [[None] * len(nodes) for _ in limits]
    for node, type_index, value_id in zip(
        local_of_value_node[in_guarded].tolist(),
        value_types[in_guarded].tolist(),
        value_ids[in_guarded].tolist(),
        strict=True,
    ):
        held = values[type_index][node]
        values[type_index][node] = value_id if held is None else _merge(held, value_id)
    components = _Components(len(nodes), values, limits)
    codes = np.zeros(len(guarded_edges), dtype=np.int8)
    reasons = {}
    chunk = 1 << 20
    for start in range(0, len(guarded_edges), chunk):
        _decide(
            local_left[start : start + chunk].tolist(),
            local_right[start : start + chunk].tolist(),
            components,
            codes,
            reasons,
            start,
        )
    roots = np.array([components.find(node) for node in range(len(nodes))], dtype=np.int64)
    return codes, reasons, nodes, nodes[roots]


def model(dbt, session):
    dbt.config(materialized="table")
    limits = dbt.config.get("max_per_customer")
    limits = {k: int(v) for k, v in (ast.literal_eval(limits) if isinstance(limits, str) else limits).items()}
    splink_priority = int(dbt.config.get("splink_priority"))
    nodes_sql = dbt.ref("int_identity__nodes").sql_query()
    deterministic = dbt.ref("int_identity__deterministic_edges").sql_query()
    splink = dbt.ref("int_identity__splink_edges").sql_query()
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


def _edge_decisions(connection, nodes_sql, deterministic, splink, identifiers, limits, splink_priority):
    limited_types = ", ".join(f"'{t}'" for t in limits)
    connection.execute(
        f"""
        create or replace temp table edge_decisions__nodes as
        select record_key, cast(row_number() over (order by record_key) - 1 as integer) as node_id
        from (select distinct record_key from ({nodes_sql}))
        """
    )
    # The candidates stay in DuckDB (a temp table, numbered); only the integer columns the
    # pass needs reach Python, and the result is a DuckDB relation joining the decisions back,
    # so no string column of the ~11M edges is ever held in Python (peak memory at 1M).
    try:
        connection.execute(
            f"""
            create or replace temp table edge_decisions__candidates as
            with candidates as (
                select left_record_key, right_record_key, edge_kind, identifier_value, edge_priority,
                       match_probability, match_weight, is_linkable, block_reason
                from ({deterministic})
                union all
                select left_record_key, right_record_key, 'splink', null, {splink_priority},
                       match_probability, match_weight, true, null
                from ({splink})
            )
            select
                candidates.*,
                left_nodes.node_id as left_id,
                right_nodes.node_id as right_id,
                cast(row_number() over () - 1 as bigint) as edge_index
            from candidates
            left join edge_decisions__nodes as left_nodes
                on left_nodes.record_key = candidates.left_record_key
            left join edge_decisions__nodes as right_nodes
                on right_nodes.record_key = candidates.right_record_key
            """
        )
        candidates = connection.sql(
            """
            select edge_kind, match_probability, edge_priority, left_id, right_id, is_linkable
            from edge_decisions__candidates
            order by edge_index
            """
        ).to_arrow_table()
        record_keys = connection.sql(
            "select record_key from edge_decisions__nodes order by node_id"
        ).to_arrow_table()
        limited = connection.sql(
            f"""
            select n.node_id, i.identifier_type, i.identifier_value
            from ({identifiers}) as i
            inner join edge_decisions__nodes as n on n.record_key = i.record_key
            where i.identifier_type in ({limited_types})
            """
        ).to_arrow_table()
    finally:
        connection.execute("drop table if exists edge_decisions__nodes")

    node_count = record_keys.num_rows
    if candidates.num_rows and (candidates["left_id"].null_count or candidates["right_id"].null_count):
        raise ValueError("an identity edge names a record that is not in int_identity__nodes")
    left = candidates["left_id"].to_numpy(zero_copy_only=False).astype(np.int64)
    right = candidates["right_id"].to_numpy(zero_copy_only=False).astype(np.int64)
    linkable = candidates["is_linkable"].to_numpy(zero_copy_only=False).astype(bool)
    with _duckdb_memory_lowered(connection):
        codes, reasons = _decide_all(candidates, left, right, linkable, node_count, limited, limits)
    del candidates, left, right, linkable, limited

    decided = _with_decisions(connection, codes, reasons)
    clusters = pa.table(
        {
            "record_key": record_keys["record_key"],
            "cluster_key": record_keys["record_key"].take(reasons.cluster_of),
        }
    )
    return decided, clusters


class _Reasons:
    """The limit reasons of dropped edges (few) by edge index, and the clusters."""

    def __init__(self, by_edge, cluster_of):
        self.by_edge = by_edge
        self.cluster_of = cluster_of


def _edge_order(candidates, left, right):
    """Edge indices in the guard's order: priority, probability desc, left key, right key, kind.
    Node ids are numbered in record_key order, so comparing ids compares the keys."""
    kinds = candidates["edge_kind"].combine_chunks().dictionary_encode()
    kind_rank = np.argsort(np.argsort(np.array(kinds.dictionary.to_pylist(), dtype=object), kind="stable"))
    kind_code = (
        kind_rank[kinds.indices.to_numpy(zero_copy_only=False)] if len(kinds) else np.zeros(0, np.int64)
    )
    probability = candidates["match_probability"].to_numpy(zero_copy_only=False).astype(np.float64)
    # DuckDB sorts nulls last in either direction
    probability = np.where(np.isnan(probability), np.inf, -probability)
    priority = candidates["edge_priority"].to_numpy(zero_copy_only=False).astype(np.int64)
    return np.lexsort((kind_code, right, left, probability, priority))


def _codes(column, mapping=None):
    """Integer codes of a string column: dictionary indices, or the dictionary's values mapped."""
    encoded = column.combine_chunks().dictionary_encode() if len(column) else None
    if encoded is None:
        return np.zeros(0, dtype=np.int64)
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if mapping is None:
        return indices
    return np.array([mapping[v] for v in encoded.dictionary.to_pylist()], dtype=np.int64)[indices]


def _decide_all(candidates, left, right, linkable, node_count, limited, limits):
    order = _edge_order(candidates, left, right)
    codes = np.full(len(left), BLOCKED, dtype=np.int8)
    linkable_order = order[linkable[order]]  # linkable edges, in edge order
    merged, group = _spanning_forest(node_count, left[linkable_order], right[linkable_order])
    codes[linkable_order] = np.where(merged, ACCEPTED, REDUNDANT)
    cluster_of = _smallest_member(group)

    value_nodes = limited["node_id"].to_numpy(zero_copy_only=False).astype(np.int64)
    value_types = _codes(limited["identifier_type"], {t: i for i, t in enumerate(limits)})
    value_ids = _codes(limited["identifier_value"])
    unsafe = _unsafe_groups(group, value_nodes, value_types, value_ids, limits)
    by_edge = {}
    if len(unsafe):
        guarded = linkable_order[np.isin(group[left[linkable_order]], unsafe)]
        guarded_codes, guarded_reasons, nodes, roots = _guarded_pass(
            left, right, guarded, value_nodes, value_types, value_ids, limits
        )
        codes[guarded] = guarded_codes
        by_edge = {int(guarded[i]): r for i, r in guarded_reasons.items()}
        # clusters of the guarded groups: the guarded union-find's components
        smallest = np.full(node_count, node_count, dtype=np.int64)
        np.minimum.at(smallest, roots, nodes)
        cluster_of[nodes] = smallest[roots]
    return codes, _Reasons(by_edge, cluster_of)


def _with_decisions(connection, codes, reasons):
    """The candidates with their decisions, as a DuckDB relation (dbt-duckdb materialises it on
    this connection, so the temp table and the registered arrays are still there)."""
    limit_reasons = sorted(set(reasons.by_edge.values()))
    reason_ids = np.full(len(codes), -1, dtype=np.int32)
    reason_ids[codes == REDUNDANT] = 0
    if reasons.by_edge:
        position = {r: i + 1 for i, r in enumerate(limit_reasons)}
        edges = np.fromiter(reasons.by_edge.keys(), dtype=np.int64, count=len(reasons.by_edge))
        reason_ids[edges] = [position[r] for r in reasons.by_edge.values()]
    connection.register(
        "edge_decisions__codes",
        pa.table(
            {
                "edge_index": pa.array(np.arange(len(codes), dtype=np.int64)),
                "code": pa.array(codes, pa.int8()),
                "reason_id": pa.array(reason_ids, mask=reason_ids < 0),
            }
        ),
    )
    connection.register(
        "edge_decisions__reasons",
        pa.table(
            {
                "reason_id": pa.array(range(len(limit_reasons) + 1), pa.int32()),
                "reason": pa.array(["already in the same customer", *limit_reasons], pa.string()),
            }
        ),
    )
    return connection.sql(
        f"""
        select
            c.left_record_key,
            c.right_record_key,
            c.edge_kind,
            c.identifier_value,
            cast(c.edge_priority as integer) as edge_priority,
            cast(c.match_probability as double) as match_probability,
            cast(c.match_weight as double) as match_weight,
            case when d.code <= {REDUNDANT} then 'accepted' else 'dropped' end as decision,
            case when d.code = {BLOCKED} then cast(c.block_reason as varchar) else r.reason end
                as decision_reason
        from edge_decisions__candidates as c
        inner join edge_decisions__codes as d on d.edge_index = c.edge_index
        left join edge_decisions__reasons as r on r.reason_id = d.reason_id
        """
    )
