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

        {{ cdp.row_as_json('landed_row') }} as _raw_row

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
        *,
        {{ cdp.version_rank('ticket_id', '_loaded_at desc') }} as _version_rank
    from normalized

)

select * from final
