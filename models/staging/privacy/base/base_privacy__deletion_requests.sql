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
        * exclude (_landed_row),
        -- the row as landed, for the quarantine: only rows staging cannot use are serialised, so
        -- staging's queries never build a JSON per row. Versions are ranked by staging
        -- (staging_batch), not here: a window in this view keeps an incremental run's
        -- `_loaded_at` filter above the normalisation of every raw row
        case when _quarantine_reason is not null then {{ cdp.object_as_json('_landed_row') }} end as _raw_row
    from normalized

)

select * from final
