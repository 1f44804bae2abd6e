{#- Audience sizes, one row per audience per build (dbt invocation), kept
    across builds and full refreshes: the memory the size-change check reads.
    Every audience model (models/audiences) is recorded, with size 0 when it
    has no members. Counts only. -#}
{{ config(
    materialized='incremental',
    unique_key=['invocation_id', 'audience_name'],
    full_refresh=false,
    on_schema_change='append_new_columns',
) }}

with

audience_membership as (

    select * from {{ ref('audience_membership') }}

),

current_sizes as (

    select
        audience_name,
        count(*) as audience_size
    from audience_membership
    group by audience_name

),

{%- set audience_names = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.package_name == project_name and node.fqn[1] == 'audiences' -%}
            {%- do audience_names.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}

audience_models as (

    {%- for name in audience_names | sort %}
    select cast('{{ name }}' as {{ dbt.type_string() }}) as audience_name
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select cast(null as {{ dbt.type_string() }}) as audience_name where 1 = 0
    {%- endfor %}

),

known_audiences as (

    select audience_name from audience_models
    union
    select audience_name from current_sizes
    {% if is_incremental() %}
    union
    select audience_name from {{ this }}
    {% endif %}

),

final as (

    select
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as invocation_id,
        known_audiences.audience_name,
        cast(coalesce(current_sizes.audience_size, 0) as integer) as audience_size,
        cast({{ cdp.run_at() }} as timestamp) as run_at,
        cast({{ dbt.current_timestamp() }} as timestamp) as built_at
    from known_audiences
    left join current_sizes
        on current_sizes.audience_name = known_audiences.audience_name

)

select * from final
