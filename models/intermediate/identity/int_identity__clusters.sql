{#- Connected components of the accepted edges: every node gets the smallest
    record_key of its component as `cluster_key`. One way per engine
    (macros/identity/identity_engine.sql, docs/identity.md):
    - 'splink' (DuckDB): the edge-decision pass already knows every component (its
      union-find), and writes them to the state table
      `int_identity__edge_decisions__clusters`; this model copies that table once;
    - 'sql' (Snowflake): the `connected_components` materialization runs min-label
      propagation in plain SQL until nothing changes, over the model's nodes and edges. -#}
{%- set engine = cdp.identity_engine() -%}
{{ config(
    materialized='table' if engine == 'splink' else 'connected_components',
    edges_left='left_record_key',
    edges_right='right_record_key',
) }}

{% if engine == 'splink' %}

{%- set decisions = ref('int_identity__edge_decisions') -%}
select record_key, cluster_key
from {{ api.Relation.create(database=decisions.database, schema=decisions.schema, identifier=decisions.identifier ~ '__clusters') }}

{% else %}

with

nodes as (

    select record_key from {{ ref('int_identity__nodes') }}

),

accepted_edges as (

    select left_record_key, right_record_key
    from {{ cdp.identity_ref('int_identity__edge_decisions') }}
    where decision = 'accepted'

),

final as (

    select record_key as left_record_key, record_key as right_record_key from nodes
    union all
    select left_record_key, right_record_key from accepted_edges

)

select * from final

{% endif %}
