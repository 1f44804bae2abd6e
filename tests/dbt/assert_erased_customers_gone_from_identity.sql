{#- Warns when a tombstoned customer_id still has records in the identity layer:
    the erasure scope reached some of the customer's records but identity still
    links others to them (through a look-alike match the scope does not follow,
    or an over-merge). Everything downstream already excludes the id; the
    remaining records need a look. -#}
{{ config(severity='warn') }}

select
    customer_records.customer_id,
    customer_records.source_table,
    count(*) as remaining_records
from {{ ref('dim_customer_records') }} as customer_records
inner join {{ ref('erased_customers') }} as erased_customers
    on erased_customers.customer_id = customer_records.customer_id
group by customer_records.customer_id, customer_records.source_table
