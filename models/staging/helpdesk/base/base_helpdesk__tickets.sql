{{ config(materialized='view') }}

with

source as (

    select * from {{ source('helpdesk', 'support_tickets') }}

),

renamed as (

    select
        ----------  ids
        nullif(trim(ticket_id), '') as ticket_id,

        ----------  requester
        requester_email as email_raw,
        requester_phone as phone_raw,
        {{ cdp.normalize_name('requester_name') }} as full_name,

        ----------  ticket
        nullif(trim(subject), '') as subject,
        lower(nullif(trim(status), '')) as ticket_status,

        ----------  timestamps
        {{ cdp.parse_timestamp('created_at') }} as created_at,
        _loaded_at,

        -- serialised in `final`, for quarantined rows only
        {{ cdp.row_as_object('landed_row') }} as _landed_row

    from source as landed_row

),

normalized as (

    select
        *,
        {{ cdp.normalize_email('email_raw') }} as email,
        {{ cdp.is_invalid_email('email_raw') }} as is_email_invalid,
        {{ cdp.normalize_phone('phone_raw') }} as phone,
        (nullif(trim(phone_raw), '') is not null and {{ cdp.normalize_phone('phone_raw') }} is null) as is_phone_invalid,
        {{ cdp.first_name_of('full_name') }} as first_name,
        {{ cdp.last_name_of('full_name') }} as last_name,
        case
            when ticket_id is null then 'missing ticket_id'
            when created_at is null then 'missing or unparseable created_at'
        end as _quarantine_reason

    from renamed

),

final as (

    select
        * exclude (_landed_row),
        -- the row as landed, for the quarantine: only rows staging cannot use are serialised, so
        -- staging's queries never build a JSON per row. Versions are ranked by staging
        -- (staging_batch), not here: a window in this view keeps an incremental run's
        -- `_loaded_at` filter above the normalisation of every raw row
        case when _quarantine_reason is not null then {{ cdp.object_as_json('_landed_row') }} end as _raw_row
    from normalized

)

select * from final
