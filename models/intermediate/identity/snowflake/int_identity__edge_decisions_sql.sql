{{ config(
    materialized='guarded_edge_decisions',
    enabled=cdp.identity_engine() == 'sql',
    alias='int_identity__edge_decisions',
    limits=var('cdp_identity', {}).get('max_per_customer', cdp.identity_config()['max_per_customer']),
    record_values_model='int_identity__identifiers',
) }}
{#- The SQL twin of int_identity__edge_decisions.py (same relation name, same
    columns, same decisions): every candidate link with the decision the
    over-merge guards took on it. The guard itself is the materialization
    `guarded_edge_decisions` (macros/materializations), which replays the
    greedy union-find's order in set-based rounds. Its settings are read as the
    Python model reads them (int_identity__edge_decisions.yml): the limits are
    `max_per_customer` of the var cdp_identity taken whole (not merged with the
    defaults), and the Splink priority comes from cdp_identity's priorities. -#}
-- depends_on: {{ ref('int_identity__identifiers') }}

with

deterministic as (

    select
        left_record_key,
        right_record_key,
        edge_kind,
        identifier_value,
        edge_priority,
        match_probability,
        match_weight,
        is_linkable,
        block_reason
    from {{ ref('int_identity__deterministic_edges') }}

),

splink as (

    select
        left_record_key,
        right_record_key,
        'splink' as edge_kind,
        cast(null as {{ dbt.type_string() }}) as identifier_value,
        {{ cdp.identity_config()['priority']['splink'] }} as edge_priority,
        match_probability,
        match_weight,
        true as is_linkable,
        cast(null as {{ dbt.type_string() }}) as block_reason
    from {{ ref('int_identity__splink_edges_sql') }}

),

final as (

    select * from deterministic
    union all
    select * from splink

)

select * from final
