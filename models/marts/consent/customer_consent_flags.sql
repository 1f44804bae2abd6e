{{ config(
    materialized='incremental',
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{% if is_incremental() %}delete from {{ this }} where customer_id not in (select customer_id from {{ ref('customer_consent') }}){% endif %}",
) }}

{#- customer_consent pivoted: one row per customer, one flag per purpose, the
    form audiences and destinations read. Incremental: a run re-pivots only the
    customers whose customer_consent rows changed (`inputs_fingerprint` over the
    columns read here, macros/marts/customer_inputs_fingerprint.sql); customers
    that left customer_consent are deleted by the post-hook. -#}
{%- set purposes = ['email_marketing', 'sms_marketing', 'advertising', 'analytics'] -%}
{%- set input_columns = ['customer_id', 'purpose', 'is_granted', 'consent_status', 'decided_at'] -%}

with

{% if is_incremental() -%}
input_fingerprints as (

    select customer_id, {{ cdp.inputs_fingerprint(input_columns) }} as inputs_fingerprint
    from {{ ref('customer_consent') }}
    group by customer_id

),

changed_customers as (

    {{ cdp.changed_customers('input_fingerprints') }}

),

{% endif -%}
customer_consent as (

    select * from {{ ref('customer_consent') }}
    {% if is_incremental() -%}
    where customer_id in (select customer_id from changed_customers)
    {%- endif %}

),

final as (

    select
        customer_id,
        {%- for purpose in purposes %}
        coalesce(max(case when purpose = '{{ purpose }}' then case when is_granted then 1 else 0 end end), 0) = 1
            as {{ purpose }}_consent,
        max(case when purpose = '{{ purpose }}' then consent_status end) as {{ purpose }}_consent_status,
        max(case when purpose = '{{ purpose }}' then decided_at end) as {{ purpose }}_consent_decided_at,
        {%- endfor %}
        {{ cdp.inputs_fingerprint(input_columns) }} as inputs_fingerprint
    from customer_consent
    group by customer_id

)

select * from final
