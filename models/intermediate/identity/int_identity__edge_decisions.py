"""Every candidate link with the decision the over-merge guards took on it.

Edges are applied strongest first (system ids, then email, phone, device, then
Splink by descending probability). An edge whose merge would give one customer
more distinct values of an identifier type than `max_per_customer` allows is
dropped with that reason, so the lowest-priority edges are the ones that go.
Edges of blocklisted or over-shared identifier values arrive already blocked.

DuckDB orders the edges and numbers the records; the Python loop (a union-find,
inherently sequential) touches only integer arrays, and its decisions are
joined back to the edges in DuckDB.
"""

import ast

import duckdb
import pyarrow as pa

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


def _groups(node_count, left_ids, right_ids, linkable):
    """Pass 1: plain union-find over the linkable edges in edge order, no identifier values.

    Returns each node's group (root) and, per edge, whether it merged two groups. In a group
    whose records together break no per-customer limit the guard can never fire (a customer is
    a subset of its group), so these are already the final decisions there; only the groups that
    break a limit need the guarded pass with its value sets, which dominates the cost."""
    parent = list(range(node_count))
    merged = []
    for left, right, is_linkable in zip(left_ids, right_ids, linkable, strict=True):
        if not is_linkable:
            merged.append(False)
            continue
        while parent[left] != left:
            parent[left] = parent[parent[left]]
            left = parent[left]
        while parent[right] != right:
            parent[right] = parent[parent[right]]
            right = parent[right]
        if left == right:
            merged.append(False)
        else:
            parent[right] = left
            merged.append(True)
    roots = []
    for node in range(node_count):
        root = node
        while parent[root] != root:
            root = parent[root]
        roots.append(root)
    return roots, merged


def _decide(left_ids, right_ids, linkable, components):
    codes, reasons = [], []
    for left_id, right_id, is_linkable in zip(left_ids, right_ids, linkable, strict=True):
        if not is_linkable:
            codes.append(BLOCKED)
            reasons.append(None)
            continue
        left, right = components.find(left_id), components.find(right_id)
        if left == right:
            codes.append(REDUNDANT)
            reasons.append(None)
            continue
        reason = components.violation(left, right)
        if reason is None:
            components.union(left, right)
            codes.append(ACCEPTED)
        else:
            codes.append(OVER_LIMIT)
        reasons.append(reason)
    return codes, reasons


def model(dbt, session):
    dbt.config(materialized="table")
    limits = dbt.config.get("max_per_customer")
    limits = {k: int(v) for k, v in (ast.literal_eval(limits) if isinstance(limits, str) else limits).items()}
    splink_priority = int(dbt.config.get("splink_priority"))
    deterministic = dbt.ref("int_identity__deterministic_edges").sql_query()
    splink = dbt.ref("int_identity__splink_edges").sql_query()
    identifiers = dbt.ref("int_identity__identifiers").sql_query()
    limited_types = ", ".join(f"'{t}'" for t in limits)

    connection = _duckdb_connection(session)
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
        ),
        record_keys as (
            select record_key, cast(row_number() over (order by record_key) - 1 as integer) as node_id
            from (select left_record_key as record_key from candidates
                  union select right_record_key from candidates)
        )
        select
            candidates.*,
            left_keys.node_id as left_id,
            right_keys.node_id as right_id,
            row_number() over (
                order by edge_priority, match_probability desc, left_record_key, right_record_key, edge_kind
            ) as edge_order
        from candidates
        inner join record_keys as left_keys on left_keys.record_key = candidates.left_record_key
        inner join record_keys as right_keys on right_keys.record_key = candidates.right_record_key
        """
    )
    try:
        edges = connection.sql(
            "select left_id, right_id, is_linkable from edge_decisions__candidates order by edge_order"
        ).fetchnumpy()
        node_count = connection.sql(
            "select coalesce(max(greatest(left_id, right_id)) + 1, 0) from edge_decisions__candidates"
        ).fetchall()[0][0]
        left_ids, right_ids = edges["left_id"].tolist(), edges["right_id"].tolist()
        linkable = edges["is_linkable"].tolist()
        roots, merged = _groups(node_count, left_ids, right_ids, linkable)
        group_table = pa.table(  # noqa: F841 - read by the query below through DuckDB's replacement scan
            {"node_id": pa.array(range(node_count), pa.int32()), "group_id": pa.array(roots, pa.int32())}
        )
        connection.execute(
            f"""
            create or replace temp table edge_decisions__limited as
            select keys.node_id, identifiers.identifier_type,
                   dense_rank() over (
                       partition by identifiers.identifier_type order by identifiers.identifier_value
                   ) as value_id
            from ({identifiers}) as identifiers
            inner join (
                select left_record_key as record_key, left_id as node_id from edge_decisions__candidates
                union
                select right_record_key, right_id from edge_decisions__candidates
            ) as keys on keys.record_key = identifiers.record_key
            where identifiers.identifier_type in ({limited_types})
            """
        )
        limit_cases = " or ".join(
            f"count(distinct value_id) filter (where identifier_type = '{t}') > {n}"
            for t, n in limits.items()
        )
        # only the groups whose records together break a limit go through the guarded pass
        unsafe_rows = connection.sql(
            f"""
            with limited as (select * from edge_decisions__limited),
            unsafe_groups as (
                select g.group_id from limited inner join group_table as g using (node_id)
                group by g.group_id having {limit_cases or "false"}
            )
            select limited.node_id, limited.identifier_type, limited.value_id
            from limited inner join group_table as g using (node_id)
            where g.group_id in (select group_id from unsafe_groups)
            """
        ).fetchall()
        values = {}
        for node_id, identifier_type, value_id in unsafe_rows:
            by_type = values.setdefault(node_id, {})
            by_type[identifier_type] = by_type.get(identifier_type, frozenset()) | {value_id}
        unsafe = {roots[node_id] for node_id in values}

        codes = [
            ACCEPTED if m else (REDUNDANT if k else BLOCKED) for m, k in zip(merged, linkable, strict=True)
        ]
        reasons = [None] * len(codes)
        guarded = [i for i, left in enumerate(left_ids) if linkable[i] and roots[left] in unsafe]
        if guarded:
            guarded_codes, guarded_reasons = _decide(
                [left_ids[i] for i in guarded],
                [right_ids[i] for i in guarded],
                [True] * len(guarded),
                _Components(node_count, values, limits),
            )
            for i, code, reason in zip(guarded, guarded_codes, guarded_reasons, strict=True):
                codes[i], reasons[i] = code, reason
        decisions = pa.table(  # noqa: F841 - read by the query below through DuckDB's replacement scan
            {
                "edge_order": pa.array(range(1, len(codes) + 1), pa.int64()),
                "code": pa.array(codes, pa.int8()),
                "limit_reason": pa.array(reasons, pa.string()),
            }
        )
        table = connection.sql(
            f"""
            select
                c.left_record_key,
                c.right_record_key,
                c.edge_kind,
                c.identifier_value,
                cast(c.edge_priority as integer) as edge_priority,
                cast(c.match_probability as double) as match_probability,
                cast(c.match_weight as double) as match_weight,
                case when d.code in ({ACCEPTED}, {REDUNDANT}) then 'accepted' else 'dropped' end as decision,
                case d.code
                    when {BLOCKED} then c.block_reason
                    when {OVER_LIMIT} then d.limit_reason
                    when {REDUNDANT} then 'already in the same customer'
                end as decision_reason
            from edge_decisions__candidates as c
            inner join decisions as d on d.edge_order = c.edge_order
            """
        ).to_arrow_table()
    finally:
        connection.execute("drop table if exists edge_decisions__candidates")
        connection.execute("drop table if exists edge_decisions__limited")
    return table
