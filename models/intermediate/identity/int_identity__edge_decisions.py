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
        values = {}
        for node_id, identifier_type, value_id in connection.sql(
            f"""
            select keys.node_id, identifiers.identifier_type,
                   dense_rank() over (
                       partition by identifiers.identifier_type order by identifiers.identifier_value
                   )
            from ({identifiers}) as identifiers
            inner join (
                select left_record_key as record_key, left_id as node_id from edge_decisions__candidates
                union
                select right_record_key, right_id from edge_decisions__candidates
            ) as keys on keys.record_key = identifiers.record_key
            where identifiers.identifier_type in ({limited_types})
            """
        ).fetchall():
            by_type = values.setdefault(node_id, {})
            by_type[identifier_type] = by_type.get(identifier_type, frozenset()) | {value_id}

        codes, reasons = _decide(
            edges["left_id"].tolist(),
            edges["right_id"].tolist(),
            edges["is_linkable"].tolist(),
            _Components(node_count, values, limits),
        )
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
            order by c.edge_order
            """
        ).to_arrow_table()
    finally:
        connection.execute("drop table if exists edge_decisions__candidates")
    return table
