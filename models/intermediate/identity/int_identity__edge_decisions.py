"""Every candidate link with the decision the over-merge guards took on it.

Edges are applied strongest first (system ids, then email, phone, device, then
Splink by descending probability). An edge whose merge would give one customer
more distinct values of an identifier type than `max_per_customer` allows is
dropped with that reason, so the lowest-priority edges are the ones that go.
Edges of blocklisted or over-shared identifier values arrive already blocked.
"""

import ast

import pyarrow as pa


class _Components:
    """Union-find that also tracks, per component, the identifier values under a limit."""

    def __init__(self, values_by_record, limits):
        self.parent = {}
        self.values = {}
        self.limits = limits
        for record_key, by_type in values_by_record.items():
            self.parent[record_key] = record_key
            self.values[record_key] = by_type

    def find(self, key):
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def violation(self, left, right):
        a, b = self.values.get(left, {}), self.values.get(right, {})
        for identifier_type, limit in self.limits.items():
            merged = a.get(identifier_type, frozenset()) | b.get(identifier_type, frozenset())
            if len(merged) > limit:
                count = len(merged)
                return f"would give one customer {count} {identifier_type} values (limit {limit})"
        return None

    def union(self, left, right):
        a, b = self.values.pop(left, {}), self.values.pop(right, {})
        merged = {t: a.get(t, frozenset()) | b.get(t, frozenset()) for t in set(a) | set(b)}
        self.parent[right] = left
        self.values[left] = merged


def model(dbt, session):
    dbt.config(materialized="table")
    limits = dbt.config.get("max_per_customer")
    limits = {k: int(v) for k, v in (ast.literal_eval(limits) if isinstance(limits, str) else limits).items()}
    splink_priority = int(dbt.config.get("splink_priority"))

    deterministic = dbt.ref("int_identity__deterministic_edges").to_arrow_table().to_pylist()
    splink = dbt.ref("int_identity__splink_edges").to_arrow_table().to_pylist()
    identifiers = (
        dbt.ref("int_identity__identifiers")
        .filter("identifier_type in (" + ", ".join(f"'{t}'" for t in limits) + ")")
        .select("record_key, identifier_type, identifier_value")
        .to_arrow_table()
        .to_pylist()
    )

    values_by_record = {}
    for row in identifiers:
        by_type = values_by_record.setdefault(row["record_key"], {})
        by_type[row["identifier_type"]] = frozenset({row["identifier_value"]})
    components = _Components(values_by_record, limits)

    candidates = deterministic + [
        {
            "left_record_key": edge["left_record_key"],
            "right_record_key": edge["right_record_key"],
            "edge_kind": "splink",
            "identifier_type": None,
            "identifier_value": None,
            "edge_priority": splink_priority,
            "match_probability": edge["match_probability"],
            "match_weight": edge["match_weight"],
            "is_linkable": True,
            "block_reason": None,
        }
        for edge in splink
    ]
    candidates.sort(
        key=lambda e: (
            e["edge_priority"],
            -e["match_probability"],
            e["left_record_key"],
            e["right_record_key"],
        )
    )

    rows = []
    for edge in candidates:
        decision, reason = "accepted", None
        if not edge["is_linkable"]:
            decision, reason = "dropped", edge["block_reason"]
        else:
            left, right = (
                components.find(edge["left_record_key"]),
                components.find(edge["right_record_key"]),
            )
            if left == right:
                reason = "already in the same customer"
            else:
                reason = components.violation(left, right)
                if reason is None:
                    components.union(left, right)
                else:
                    decision = "dropped"
        rows.append(
            {
                "left_record_key": edge["left_record_key"],
                "right_record_key": edge["right_record_key"],
                "edge_kind": edge["edge_kind"],
                "identifier_value": edge["identifier_value"],
                "edge_priority": edge["edge_priority"],
                "match_probability": float(edge["match_probability"]),
                "match_weight": edge["match_weight"],
                "decision": decision,
                "decision_reason": reason,
            }
        )
    schema = pa.schema(
        [
            ("left_record_key", pa.string()),
            ("right_record_key", pa.string()),
            ("edge_kind", pa.string()),
            ("identifier_value", pa.string()),
            ("edge_priority", pa.int32()),
            ("match_probability", pa.float64()),
            ("match_weight", pa.float64()),
            ("decision", pa.string()),
            ("decision_reason", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
