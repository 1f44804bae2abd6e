{{ config(
    materialized='incremental',
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{% if is_incremental() %}delete from {{ this }} where customer_id not in (select records.customer_id from {{ ref('dim_customer_records') }} as records where records.record_key in (select record_key from {{ ref('int_identity__identifiers') }})){% endif %}",
) }}

{#- Every identifier of every customer. Incremental: a run rebuilds only the
    customers whose identifier rows or guard verdicts changed
    (`inputs_fingerprint`, macros/marts/customer_inputs_fingerprint.sql);
    customers left without identifiers are deleted by the post-hook. -#}
{%- set input_columns = [
    'identifiers.record_key', 'identifiers.source_table', 'identifiers.identifier_type',
    'identifiers.identifier_value', 'identifiers.observed_at', 'guards.is_linkable',
] -%}

with

{% if is_incremental() -%}
input_fingerprints as (

    select
        records.customer_id,
        {{ cdp.inputs_fingerprint(input_columns) }} as inputs_fingerprint
    from {{ ref('int_identity__identifiers') }} as identifiers
    inner join {{ ref('dim_customer_records') }} as records on records.record_key = identifiers.record_key
    inner join {{ ref('int_identity__identifier_guards') }} as guards
        on guards.identifier_type = identifiers.identifier_type
        and guards.identifier_value = identifiers.identifier_value
    group by records.customer_id

),

changed_customers as (

    {{ cdp.changed_customers('input_fingerprints') }}

),

{% endif -%}
identifiers as (

    select * from {{ ref('int_identity__identifiers') }}

),

records as (

    select record_key, customer_id from {{ ref('dim_customer_records') }}
    {% if is_incremental() -%}
    where customer_id in (select customer_id from changed_customers)
    {%- endif %}

),

guards as (

    select identifier_type, identifier_value, is_linkable, block_reason
    from {{ ref('int_identity__identifier_guards') }}

),

customer_identifiers as (

    select
        records.customer_id,
        identifiers.identifier_type,
        identifiers.identifier_value,
        min(identifiers.source_table) as source_table,
        count(distinct identifiers.source_table) as source_count,
        count(*) as record_count,
        min(identifiers.observed_at) as first_seen_at,
        max(identifiers.observed_at) as last_seen_at,
        {{ cdp.bool_and("guards.is_linkable") }} as is_linkable,
        {{ cdp.inputs_fingerprint(input_columns) }} as rows_fingerprint
    from identifiers
    inner join records on records.record_key = identifiers.record_key
    inner join guards
        on guards.identifier_type = identifiers.identifier_type
        and guards.identifier_value = identifiers.identifier_value
    group by records.customer_id, identifiers.identifier_type, identifiers.identifier_value

),

fingerprints as (

    select customer_id, {{ cdp.bit_xor_agg('rows_fingerprint') }} as inputs_fingerprint
    from customer_identifiers
    group by customer_id

),

final as (

    select
        customer_identifiers.customer_id,
        customer_identifiers.identifier_type,
        customer_identifiers.identifier_value,
        customer_identifiers.source_table,
        customer_identifiers.source_count,
        customer_identifiers.record_count,
        customer_identifiers.first_seen_at,
        customer_identifiers.last_seen_at,
        customer_identifiers.is_linkable,
        fingerprints.inputs_fingerprint
    from customer_identifiers
    inner join fingerprints on fingerprints.customer_id = customer_identifiers.customer_id

)

select * from final
