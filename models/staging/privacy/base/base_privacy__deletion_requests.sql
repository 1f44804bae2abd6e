{{ config(materialized='view') }}

with

source as (

    select * from {{ source('privacy', 'deletion_requests') }}

),

renamed as (

    select
        ----------  ids
        nullif(trim(request_id), '') as request_id,
        email as email_raw,
        nullif(trim(user_id), '') as app_user_id,
        phone as phone_raw,

        ----------  request
        lower(nullif(trim(status), '')) as request_status,

        ----------  timestamps
        {{ cdp.parse_timestamp('requested_at') }} as requested_at,
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
        case
            when request_id is null then 'missing request_id'
            when requested_at is null then 'missing or unparseable requested_at'
            when app_user_id is null
                and {{ cdp.normalize_email('email_raw') }} is null
                and {{ cdp.normalize_phone('phone_raw') }} is null
                then 'no usable email, user_id or phone'
        end as _quarantine_reason

    from renamed

),

final as (

    select
        *,
        {{ cdp.version_rank('request_id', '_loaded_at desc') }} as _version_rank
    from normalized

)

select * from final
