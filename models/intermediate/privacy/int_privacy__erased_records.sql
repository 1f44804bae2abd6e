{#- The person-bearing source records (as identity record_keys) that an erasure
    request covers: a record is erased when any of its raw versions is in the
    erasure scope. The scope identifies raw rows by hash only, so the hash is
    recomputed over the base views to recover the record id. Ids only: no
    personal data. -#}
{%- set person_tables = ['crm_contacts', 'shop_customers', 'shop_orders', 'app_users', 'web_events',
                         'newsletter_signups', 'support_tickets'] -%}

with

erasure_scope as (

    select * from {{ ref('stg_privacy__erasure_scope') }}

),

{% for s in cdp.staging_inventory() if s.table in person_tables %}
{{ s.table }}_rows as (

    select
        '{{ s.table }}' as source_table,
        {{ s.key }} as source_record_id,
        {{ cdp.hash_key(['_raw_row']) }} as raw_row_hash
    from {{ ref(s.base) }}
    where {{ s.key }} is not null

),

{% endfor %}
raw_rows as (

    {% for s in cdp.staging_inventory() if s.table in person_tables %}
    select * from {{ s.table }}_rows
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        raw_rows.source_table || ':' || raw_rows.source_record_id as record_key,
        raw_rows.source_table,
        raw_rows.source_record_id,
        min(erasure_scope.request_id) as request_id
    from raw_rows
    inner join erasure_scope
        on erasure_scope.source_table = raw_rows.source_table
        and erasure_scope.raw_row_hash = raw_rows.raw_row_hash
    group by raw_rows.source_table, raw_rows.source_record_id

)

select * from final
