{{ config(
    materialized='incremental',
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{% if is_incremental() %}delete from {{ this }} where customer_id not in (select customer_id from {{ ref('dim_customer_records') }}){% endif %}",
) }}

{#- The golden record: one row per customer, each attribute chosen by the
    survivorship rule configured in the var `cdp_survivorship`, with the source
    table and record it came from. Incremental: a run rebuilds only the
    customers whose records changed, joined or left (`inputs_fingerprint`,
    macros/marts/customer_inputs_fingerprint.sql); customers left without
    records are deleted by the post-hook. -#}
{%- set rules = var('cdp_survivorship') -%}
{%- set attributes = ['email', 'phone', 'first_name', 'last_name', 'date_of_birth'] -%}
{%- set node_columns = [
    'nodes.record_key', 'nodes.source_table', 'nodes.email', 'nodes.phone', 'nodes.first_name',
    'nodes.last_name', 'nodes.date_of_birth', 'nodes.street', 'nodes.city', 'nodes.postal_code',
    'nodes.country_code', 'nodes.observed_at',
] -%}

with

{% if is_incremental() -%}
{#- the fingerprints join every record to its node on their own: DuckDB would
    materialise a CTE the body shares with them, every column of every node -#}
input_fingerprints as (

    select
        records.customer_id,
        {{ cdp.inputs_fingerprint(node_columns, rules) }} as inputs_fingerprint
    from {{ ref('dim_customer_records') }} as records
    inner join {{ ref('int_identity__nodes') }} as nodes on nodes.record_key = records.record_key
    group by records.customer_id

),

changed_customers as (

    {{ cdp.changed_customers('input_fingerprints') }}

),

{% endif -%}
records as (

    select * from {{ ref('dim_customer_records') }}
    {% if is_incremental() -%}
    where customer_id in (select customer_id from changed_customers)
    {%- endif %}

),

nodes as (

    select * from {{ ref('int_identity__nodes') }}

),

customer_nodes as (

    select records.customer_id, nodes.*
    from records
    inner join nodes on nodes.record_key = records.record_key

),

{% for attribute in attributes %}
{{ attribute }}_ranked as (

    select
        customer_id,
        {{ attribute }},
        source_table as {{ attribute }}_source_table,
        record_key as {{ attribute }}_record_key,
        {{ cdp.survivorship_rank(rules[attribute]['rule'], attribute, rules[attribute].get('sources', [])) }} as survivor_rank
    from (
        select *, count(*) over (partition by customer_id, {{ attribute }}) as value_frequency
        from customer_nodes
        where {{ attribute }} is not null
    ) as candidates

),
{% endfor %}

address_ranked as (

    select
        customer_id,
        street,
        city,
        postal_code,
        country_code,
        source_table as address_source_table,
        record_key as address_record_key,
        {{ cdp.survivorship_rank(rules['address']['rule'], 'postal_code', rules['address'].get('sources', [])) }} as survivor_rank
    from (
        select *, count(*) over (partition by customer_id, postal_code) as value_frequency
        from customer_nodes
        where coalesce(street, city, postal_code) is not null
    ) as candidates

),

customers as (

    select
        customer_id,
        {{ cdp.inputs_fingerprint(node_columns | map('replace', 'nodes.', '') | list, rules) }} as inputs_fingerprint,
        min(observed_at) as first_seen_at,
        max(observed_at) as last_seen_at,
        count(*) as record_count,
        count(distinct source_table) as source_count
    from customer_nodes
    group by customer_id

),

final as (

    select
        customers.customer_id,
        {%- for attribute in attributes %}
        {{ attribute }}_ranked.{{ attribute }},
        {{ attribute }}_ranked.{{ attribute }}_source_table,
        {{ attribute }}_ranked.{{ attribute }}_record_key,
        {%- endfor %}
        address_ranked.street,
        address_ranked.city,
        address_ranked.postal_code,
        address_ranked.country_code,
        address_ranked.address_source_table,
        address_ranked.address_record_key,
        customers.first_seen_at,
        customers.last_seen_at,
        customers.record_count,
        customers.source_count,
        customers.inputs_fingerprint
    from customers
    {%- for attribute in attributes + ['address'] %}
    left join {{ attribute }}_ranked
        on {{ attribute }}_ranked.customer_id = customers.customer_id
        and {{ attribute }}_ranked.survivor_rank = 1
    {%- endfor %}

)

select * from final
