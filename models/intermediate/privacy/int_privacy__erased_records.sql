{#- The person-bearing source records (as identity record_keys) that an erasure
    request covers. The scope is keyed by record, so every version of an erased
    record is erased with it and no raw row is read or hashed here; key-less
    rows (quarantined, never identity records) are left out. Ids only: no
    personal data. -#}
{%- set person_tables = ['crm_contacts', 'shop_customers', 'shop_orders', 'app_users', 'web_events',
                         'newsletter_signups', 'support_tickets'] -%}

with

erasure_scope as (

    select * from {{ ref('stg_privacy__erasure_scope') }}

),

final as (

    select
        source_table || ':' || source_record_id as record_key,
        source_table,
        source_record_id,
        min(request_id) as request_id
    from erasure_scope
    where source_record_id is not null
      and source_table in ('{{ person_tables | join("', '") }}')
    group by source_table, source_record_id

)

select * from final
