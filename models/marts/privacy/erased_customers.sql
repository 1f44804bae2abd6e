{#- The tombstone: every customer_id the platform ever issued to a person who
    has since asked for erasure. A customer_id is erased when any of the records
    the identity registry ever assigned to it is covered by an erasure request:
    the request erases the whole resolved customer, not only the records its
    identifier reaches. Append-only and kept on full refresh, so an erased id
    stays erased (and deleted downstream) even if its source rows reappear.
    Ids and dates only: no personal data. -#}
{{ config(
    materialized='incremental',
    unique_key='customer_id',
    full_refresh=false,
    on_schema_change='fail',
) }}

with

registry as (

    select * from {{ ref('int_identity__customer_id_registry') }}

),

erased_records as (

    select * from {{ ref('int_privacy__erased_records') }}

),

deletion_requests as (

    select * from {{ ref('stg_privacy__deletion_requests') }}

),

erased_assignments as (

    select distinct
        registry.customer_id,
        erased_records.request_id,
        deletion_requests.requested_at
    from registry
    inner join erased_records
        on erased_records.record_key = registry.record_key
    left join deletion_requests
        on deletion_requests.request_id = erased_records.request_id

),

first_request as (

    -- the earliest request that reached the customer is the one on record
    select
        customer_id,
        request_id,
        requested_at,
        row_number() over (
            partition by customer_id
            order by requested_at nulls last, request_id
        ) as request_rank
    from erased_assignments

),

final as (

    select
        customer_id,
        cast({{ cdp.run_at() }} as timestamp) as erased_at,
        request_id,
        requested_at
    from first_request
    where request_rank = 1
    {% if is_incremental() %}
      and customer_id not in (select customer_id from {{ this }})
    {% endif %}

)

select * from final
