{#- History of golden records: a new version whenever a golden attribute of a
    customer changes; a customer that disappears (merged away, or erased) has
    its current version closed. Erasure: an erased customer_id never enters
    (the source excludes the tombstone) and every earlier version of it is
    deleted after each run (post_hook), so no history of an erased person
    survives. -#}
{% snapshot dim_customers_snapshot %}

{{ config(
    unique_key='customer_id',
    strategy='check',
    check_cols=[
        'email', 'phone', 'first_name', 'last_name', 'date_of_birth',
        'street', 'city', 'postal_code', 'country_code',
    ],
    hard_deletes='invalidate',
    post_hook=[
        "delete from {{ this }} where customer_id in (select customer_id from {{ ref('erased_customers') }})",
    ],
) }}

with

customers as (

    select * from {{ ref('dim_customers') }}

),

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

final as (

    -- every golden column; not the fingerprint, which only drives incremental runs
    select
        customers.customer_id,
        {%- for attribute in ['email', 'phone', 'first_name', 'last_name', 'date_of_birth'] %}
        customers.{{ attribute }},
        customers.{{ attribute }}_source_table,
        customers.{{ attribute }}_record_key,
        {%- endfor %}
        customers.street,
        customers.city,
        customers.postal_code,
        customers.country_code,
        customers.address_source_table,
        customers.address_record_key,
        customers.first_seen_at,
        customers.last_seen_at,
        customers.record_count,
        customers.source_count
    from customers
    left join erased_customers
        on erased_customers.customer_id = customers.customer_id
    where erased_customers.customer_id is null

)

select * from final

{% endsnapshot %}
