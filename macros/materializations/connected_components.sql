{#- Materialization: connected components of an undirected graph, in plain SQL.

    The model's query returns edges (config `edges_left`, `edges_right`); a node
    with no edges is given as an edge to itself. The result has one row per node:
    `record_key` and `cluster_key`, the smallest node id of its component.

    Method: min-label propagation with pointer jumping (each round a node takes
    the smallest label among its neighbours, then the label of that label),
    repeated until no label changes; rounds grow with the log of the diameter.
    Scratch tables live beside the target and are dropped at the end. The same
    statements run on DuckDB and Snowflake (only the scratch-table DDL is
    dispatched: transient tables on Snowflake, so no Fail-safe is paid). -#}
{% materialization connected_components, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set left = config.get('edges_left', 'left_record_key') -%}
    {%- set right = config.get('edges_right', 'right_record_key') -%}
    {%- set max_rounds = config.get('max_rounds', 64) -%}
    {%- set edges = cdp.scratch_relation(this, '__cc_edges') -%}
    {%- set labels = cdp.scratch_relation(this, '__cc_labels') -%}
    {%- set next_labels = cdp.scratch_relation(this, '__cc_next') -%}

    {{ run_hooks(pre_hooks) }}
    {% do adapter.create_schema(target_relation) %}

    {% call statement('cc_edges') %}
        {{ cdp.create_scratch_table(edges) }} as
        with model_edges as ({{ sql }})
        select {{ left }} as node, {{ right }} as neighbour from model_edges
        union
        select {{ right }}, {{ left }} from model_edges
    {% endcall %}
    {% call statement('cc_init') %}
        {{ cdp.create_scratch_table(labels) }} as
        select node, min(neighbour) as label from {{ edges }} group by node
    {% endcall %}

    {%- set rounds = cdp.propagate_min_labels(edges, labels, next_labels, max_rounds) -%}
    {{ log("connected_components: converged after " ~ rounds ~ " rounds", info=false) }}

    {% call statement('main') %}
        {{ cdp.create_table_statement(target_relation) }} as
        select node as record_key, label as cluster_key from {{ labels }}
    {% endcall %}
    {% do adapter.drop_relation(edges) %}
    {% do adapter.drop_relation(labels) %}
    {% do adapter.drop_relation(next_labels) %}

    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- Repeats min-label propagation with pointer jumping over `edges` (node,
    neighbour; both directions, every node present) until no label in
    `labels` (node, label) changes; `labels` then holds for every node the
    smallest node of its component. Returns the number of rounds. Used by the
    connected_components and guarded_edge_decisions materializations. -#}
{% macro propagate_min_labels(edges, labels, next_labels, max_rounds=64) %}
    {#- The two tables take turns as source and result, so a round writes one table instead of
        writing the result and copying it back; one copy at the end if needed. -#}
    {%- set state = namespace(converged=false, rounds=0, source=labels, result=next_labels) -%}
    {%- for round in range(max_rounds) if not state.converged -%}
        {% call statement('cc_round') %}
            {{ cdp.create_scratch_table(state.result) }} as
            with propagated as (
                select edges.node, least(min(labels.label), min(own.label)) as label
                from {{ edges }} as edges
                inner join {{ state.source }} as labels on labels.node = edges.neighbour
                inner join {{ state.source }} as own on own.node = edges.node
                group by edges.node
            )
            select propagated.node, least(propagated.label, coalesce(jumped.label, propagated.label)) as label
            from propagated
            left join propagated as jumped on jumped.node = propagated.label
        {% endcall %}
        {%- set changed = run_query("select count(*) from " ~ state.result ~ " as n inner join " ~ state.source ~ " as o on o.node = n.node where n.label <> o.label").columns[0].values()[0] -%}
        {%- set previous = state.source -%}
        {%- set state.source = state.result -%}
        {%- set state.result = previous -%}
        {%- set state.rounds = state.rounds + 1 -%}
        {%- if changed == 0 -%}{%- set state.converged = true -%}{%- endif -%}
    {%- endfor -%}
    {%- if not state.converged -%}
        {{ exceptions.raise_compiler_error("connected components did not converge in " ~ max_rounds ~ " rounds; raise config max_rounds") }}
    {%- endif -%}
    {%- if state.source != labels -%}
        {% call statement('cc_final') %}
            {{ cdp.create_scratch_table(labels) }} as select * from {{ state.source }}
        {% endcall %}
    {%- endif -%}
    {{ return(state.rounds) }}
{% endmacro %}

{#- A scratch relation beside `relation` (same database and schema). -#}
{% macro scratch_relation(relation, suffix) -%}
    {{ return(api.Relation.create(database=relation.database, schema=relation.schema, identifier=relation.identifier ~ suffix, type='table')) }}
{%- endmacro %}

{#- `create or replace [transient] table <relation>`: Snowflake's transient
    tables skip Fail-safe, which scratch and rebuilt tables do not need. -#}
{% macro create_scratch_table(relation) -%}
    {{ return(adapter.dispatch('create_table_statement', 'cdp')(relation, true)) }}
{%- endmacro %}

{% macro create_table_statement(relation) -%}
    {{ return(adapter.dispatch('create_table_statement', 'cdp')(relation, config.get('transient', true))) }}
{%- endmacro %}

{% macro default__create_table_statement(relation, transient) -%}
    create or replace table {{ relation }}
{%- endmacro %}

{% macro snowflake__create_table_statement(relation, transient) -%}
    create or replace {{ 'transient ' if transient }}table {{ relation }}
{%- endmacro %}
