{{ config(materialized='table') }}

{#- The raw records an erasure request covers, keyed by (source_table,
    source_record_id): every version of a covered record is erased with it.
    Only raw rows without a usable primary key (always quarantined) fall back
    to a hash of the raw row, so the expensive `md5(<row as JSON>)` runs on a
    handful of rows instead of every raw row, and the staging filters are
    anti-joins on keys.

    A request names one identifier (email, user_id or phone); erasure covers
    the whole person, so the scope grows through the identifiers of the
    records found, for `erasure_hops` rounds, and then to every record of the
    resolved customer (see `reached_records` below). Blocklisted junk values
    never spread the scope. anonymous_id erases the browsing history of the
    person's devices but does not spread further, because devices are shared.

    Staging models drop every record listed here, so no model downstream ever
    sees it. This model reads the deletion requests' base view and the index
    of every source's identifiers (stg_privacy__identifier_index) on purpose:
    it is the one place that must see across sources before staging. It holds
    no personal data (table, key or row hash, and request only). -#}

{%- set hops = cdp.identity_config()['erasure_hops'] -%}

with

requests as (

    {#- the request's identifiers as landed (staging keeps only their hashes),
        ranked as staging ranks them -#}
    select * from ({{ cdp.staging_batch('deletion_requests') }}) as versions
    where _quarantine_reason is null and _version_rank = 1
      and coalesce(request_status, 'pending') not in ('rejected', 'cancelled', 'withdrawn')

),

request_identifiers as (

    select request_id, 'email' as identifier_type, email as identifier_value from requests where email is not null
    union all
    select request_id, 'app_user_id', app_user_id from requests where app_user_id is not null
    union all
    select request_id, 'phone', phone from requests where phone is not null

),

{#- Every raw record's identifiers, hashed, from the incremental index (it
    adds only newly landed rows; reading the base views here normalised every
    raw row on every run). Its `identifier_hash` is the scope's
    `identifier_value`: the request's values are hashed the same way.

    The index (20M rows at 1M people) is read straight from its table at every
    use, never through a CTE: a CTE read several times is materialised whole
    first (on DuckDB a 20M-row copy spilled to disk, then read back at each of
    nine joins: most of this model's time), while a table scan reads only the
    columns a join needs and drops non-matching rows as it goes. -#}
{%- set index = ref('stg_privacy__identifier_index') %}

-- a value held by more accounts than the identity cap allows is junk and
-- would spread the erasure to strangers (accounts: records of account tools,
-- so a customer's many orders do not count against their own email)
overshared_values as (

    select identifier_type, identifier_hash
    from {{ index }}
    where source_table in ('crm_contacts', 'shop_customers', 'app_users', 'newsletter_signups')
      and identifier_type in ('{{ cdp.identity_config()['max_accounts_per_identifier'].keys() | join("', '") }}')
    group by identifier_type, identifier_hash
    having count(distinct source_table || ':' || source_record_id) > max(case identifier_type
        {%- for t, cap in cdp.identity_config()['max_accounts_per_identifier'].items() %}
        when '{{ t }}' then {{ cap }}
        {%- endfor %}
    end)

),

scope_0 as (

    select distinct
        identifier_type,
        {{ cdp.hash_key(['identifier_value']) }} as identifier_value,
        request_id
    from request_identifiers
    where not {{ cdp.is_blocklisted_identifier('identifier_type', 'identifier_value') }}

),

{#- Each hop first finds the (few) records holding a scope identifier, one per
    record (`group by`, which also keeps the planner from joining the
    identifiers with themselves on the record before the scope filter: that
    was a 10M x 10M join per hop), then reads those records' identifiers.
    min() of the per-record min() is the same request as before. An
    over-shared value is dropped on the scope's side of each join, which is
    the same as dropping its index rows but filters thousands of rows instead
    of millions. -#}
{% for hop in range(1, hops + 1) %}
found_{{ hop }} as (

    select found.source_table, found.row_id, min(scope.request_id) as request_id
    from {{ 'scope_0' if hop == 1 else 'frontier_' ~ (hop - 1) }} as scope
    inner join {{ index }} as found
        on found.identifier_type = scope.identifier_type
        and found.identifier_hash = scope.identifier_value
    where found.identifier_type <> 'anonymous_id'
      and not found.is_blocklisted
      and not exists (
          select 1 from overshared_values
          where overshared_values.identifier_type = scope.identifier_type
            and overshared_values.identifier_hash = scope.identifier_value
      )
    group by found.source_table, found.row_id

),

scope_{{ hop }} as (

    select identifier_type, identifier_value, min(request_id) as request_id
    from (
        select * from scope_{{ hop - 1 }}
        union all
        select reached.identifier_type, reached.identifier_hash, found_{{ hop }}.request_id
        from found_{{ hop }}
        inner join {{ index }} as reached
            on reached.row_id = found_{{ hop }}.row_id
            and reached.source_table = found_{{ hop }}.source_table
        where reached.identifier_type <> 'anonymous_id'
          and not reached.is_blocklisted
          and not exists (
              select 1 from overshared_values
              where overshared_values.identifier_type = reached.identifier_type
                and overshared_values.identifier_hash = reached.identifier_hash
          )
    ) as grown
    group by identifier_type, identifier_value

),
{% if not loop.last %}
{#- only what this hop changed (a new value, or a smaller request) searches
    again: the records of the others were found by an earlier hop, with the
    same request. Extra rows here would cost time, never change the result. -#}
frontier_{{ hop }} as (

    select * from scope_{{ hop }} as grown
    where not exists (
        select 1 from scope_{{ hop - 1 }} as known
        where known.identifier_type = grown.identifier_type
          and known.identifier_value = grown.identifier_value
          and known.request_id = grown.request_id
    )

),
{% endif %}
{%- endfor %}

reached_records as (

    select distinct
        indexed.source_table,
        indexed.source_record_id,
        indexed.raw_row_hash,
        indexed.row_id,
        scope.request_id
    from {{ index }} as indexed
    inner join scope_{{ hops }} as scope
        on scope.identifier_type = indexed.identifier_type
        and scope.identifier_value = indexed.identifier_hash

),

{#- The whole resolved customer: every record the identity registry (kept
    across runs, read here as the previous run left it - no ref, which would be
    a cycle) gave the customer_id of a reached record is erased with it, so a
    record linked only by a probabilistic match cannot keep the erased
    customer's id, name or phone alive. -#}
{%- set registry = adapter.get_relation(
        database=target.database, schema='intermediate', identifier='int_identity__customer_id_registry')
    if execute and var('cdp_erasure_follow_identity', true) else none %}
{% if registry %}
resolved_records as (

    select distinct
        split_part(same_customer.record_key, ':', 1) as source_table,
        substr(same_customer.record_key, length(split_part(same_customer.record_key, ':', 1)) + 2)
            as source_record_id,
        reached_records.request_id
    from reached_records
    inner join {{ registry }} as reached_customer
        on reached_customer.record_key = reached_records.source_table || ':' || reached_records.source_record_id
    inner join {{ registry }} as same_customer
        on same_customer.customer_id = reached_customer.customer_id

),

person_records as (

    select source_table, source_record_id, raw_row_hash, row_id, request_id from reached_records
    union
    select source_table, source_record_id, null, {{ cdp.raw_record_id('source_record_id', 'null') }}, request_id from resolved_records

),
{% else %}
person_records as (

    select source_table, source_record_id, raw_row_hash, row_id, request_id from reached_records

),
{% endif %}

device_ids as (

    select distinct indexed.identifier_hash as anonymous_id, person_records.request_id
    from person_records
    inner join {{ index }} as indexed
        on indexed.row_id = person_records.row_id
        and indexed.source_table = person_records.source_table
    where indexed.identifier_type = 'anonymous_id'
      and not indexed.is_blocklisted

),

device_records as (

    select distinct
        indexed.source_table,
        indexed.source_record_id,
        indexed.raw_row_hash,
        indexed.row_id,
        device_ids.request_id
    from {{ index }} as indexed
    inner join device_ids on device_ids.anonymous_id = indexed.identifier_hash
    where indexed.identifier_type = 'anonymous_id'

),

final as (

    select
        source_table,
        source_record_id,
        raw_row_hash,
        min(request_id) as request_id
    from (
        select * from person_records
        union all
        select * from device_records
    ) as erased
    group by source_table, row_id, source_record_id, raw_row_hash

)

select * from final
