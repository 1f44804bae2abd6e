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

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ACCEPTED, REDUNDANT, OVER_LIMIT, BLOCKED = 0, 1, 2, 3


def _duckdb_connection(session):
    """dbt-duckdb hands Python models a cursor wrapper; follow it to the raw connection."""
    connection = session
    while not isinstance(connection, duckdb.DuckDBPyConnection):
        connection = connection._cursor
    return connection


class _Components:
    """Union-find over integer node ids that also keeps, per root, the limited identifier values."""

    def __init__(self, node_count, values, limits):
        self.parent = list(range(node_count))
        self.values = values  # root -> {identifier_type: frozenset(value ids)}
        self.limits = limits

    def find(self, node):
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def violation(self, left, right):
        a, b = self.values.get(left), self.values.get(right)
        if not a or not b:
            return None
        for identifier_type, limit in self.limits.items():
            merged = a.get(identifier_type, frozenset()) | b.get(identifier_type, frozenset())
            if len(merged) > limit:
                return f"would give one customer {len(merged)} {identifier_type} values (limit {limit})"
        return None

    def union(self, left, right):
        a, b = self.values.pop(left, None), self.values.pop(right, None)
        if a or b:
            a, b = a or {}, b or {}
            types = a.keys() | b.keys()
            self.values[left] = {t: a.get(t, frozenset()) | b.get(t, frozenset()) for t in types}
        self.parent[right] = left


def _decide(left_ids, right_ids, components):
    """The guarded pass: edges in order, each accepted, redundant or dropped over a limit."""
    codes, reasons = [], []
    parent, violation, union = components.parent, components.violation, components.union
    for left, right in zip(left_ids, right_ids, strict=True):
        while parent[left] != left:  # find, with path halving
            parent[left] = parent[parent[left]]
            left = parent[left]
        while parent[right] != right:
            parent[right] = parent[parent[right]]
            right = parent[right]
        if left == right:
            codes.append(REDUNDANT)
            reasons.append(None)
            continue
        reason = violation(left, right)
        if reason is None:
            union(left, right)
            codes.append(ACCEPTED)
        else:
            codes.append(OVER_LIMIT)
        reasons.append(reason)
    return codes, reasons


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
    Returns their codes and reasons, and each touched node's root (compact ids mapped back)."""
    nodes, inverse = np.unique(
        np.concatenate([edge_left[guarded_edges], edge_right[guarded_edges]]), return_inverse=True
    )
    local_left, local_right = np.split(inverse, 2)
    types = list(limits)
    values = {}
    local_of_value_node = np.searchsorted(nodes, value_nodes)
    in_guarded = (local_of_value_node < len(nodes)) & (
        nodes[np.minimum(local_of_value_node, len(nodes) - 1)] == value_nodes
    )
    for node, type_index, value_id in zip(
        local_of_value_node[in_guarded].tolist(),
        value_types[in_guarded].tolist(),
        value_ids[in_guarded].tolist(),
        strict=True,
    ):
        by_type = values.setdefault(node, {})
        by_type[types[type_index]] = by_type.get(types[type_index], frozenset()) | {value_id}
    components = _Components(len(nodes), values, limits)
    codes, reasons = _decide(local_left.tolist(), local_right.tolist(), components)
    roots = np.array([components.find(node) for node in range(len(nodes))], dtype=np.int64)
    return np.array(codes, dtype=np.int8), reasons, nodes, nodes[roots]


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


def _edge_decisions(connection, nodes_sql, deterministic, splink, identifiers, limits, splink_priority):
    limited_types = ", ".join(f"'{t}'" for t in limits)
    connection.execute(
        f"""
        create or replace temp table edge_decisions__nodes as
        select record_key, cast(row_number() over (order by record_key) - 1 as integer) as node_id
        from (select distinct record_key from ({nodes_sql}))
        """
    )
    try:
        candidates = connection.sql(
            f"""
            with candidates as (
                select left_record_key, right_record_key, edge_kind, identifier_value, edge_priority,
                       match_probability, match_weight, is_linkable, block_reason
                from ({deterministic})
                union all
                select left_record_key, right_record_key, 'splink', null, {splink_priority},
                       match_probability, match_weight, true, null
                from ({splink})
            )
            select candidates.*, left_nodes.node_id as left_id, right_nodes.node_id as right_id
            from candidates
            left join edge_decisions__nodes as left_nodes
                on left_nodes.record_key = candidates.left_record_key
            left join edge_decisions__nodes as right_nodes
                on right_nodes.record_key = candidates.right_record_key
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
    codes, reasons = _decide_all(candidates, left, right, linkable, node_count, limited, limits)

    decided = _with_decisions(candidates, codes, reasons)
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
        by_edge = {int(guarded[i]): r for i, r in enumerate(guarded_reasons) if r is not None}
        # clusters of the guarded groups: the guarded union-find's components
        smallest = np.full(node_count, node_count, dtype=np.int64)
        np.minimum.at(smallest, roots, nodes)
        cluster_of[nodes] = smallest[roots]
    return codes, _Reasons(by_edge, cluster_of)


def _with_decisions(candidates, codes, reasons):
    codes = pa.array(codes)
    decision = pc.if_else(
        pc.less_equal(codes, pa.scalar(REDUNDANT, pa.int8())), pa.scalar("accepted"), pa.scalar("dropped")
    )
    limit_reasons = sorted(set(reasons.by_edge.values()))
    dictionary = ["already in the same customer", *limit_reasons]
    indices = np.full(len(codes), -1, dtype=np.int32)
    indices[codes.to_numpy(zero_copy_only=False) == REDUNDANT] = 0
    if reasons.by_edge:
        position = {r: i + 1 for i, r in enumerate(limit_reasons)}
        edges = np.fromiter(reasons.by_edge.keys(), dtype=np.int64, count=len(reasons.by_edge))
        indices[edges] = [position[r] for r in reasons.by_edge.values()]
    guard_reason = pa.DictionaryArray.from_arrays(
        pa.array(indices, mask=indices < 0), pa.array(dictionary, pa.string())
    ).cast(pa.string())
    blocked = pc.equal(codes, pa.scalar(BLOCKED, pa.int8()))
    block_reason = candidates["block_reason"].combine_chunks().cast(pa.string())
    decision_reason = pc.if_else(blocked, block_reason, guard_reason)
    return pa.table(
        {
            "left_record_key": candidates["left_record_key"],
            "right_record_key": candidates["right_record_key"],
            "edge_kind": candidates["edge_kind"],
            "identifier_value": candidates["identifier_value"],
            "edge_priority": candidates["edge_priority"].cast(pa.int32()),
            "match_probability": candidates["match_probability"].cast(pa.float64()),
            "match_weight": candidates["match_weight"].cast(pa.float64()),
            "decision": decision,
            "decision_reason": decision_reason,
        }
    )
