{{ config(materialized='view') }}

with

source as (

    select * from {{ source('consent', 'consent_events') }}

),

renamed as (

    select
        ----------  ids
        nullif(trim(consent_id), '') as consent_id,
        nullif(trim(user_id), '') as app_user_id,
        email as email_raw,

        ----------  statement
        lower(nullif(trim(purpose), '')) as purpose,
        nullif(trim(granted), '') as granted_raw,
        {{ cdp.parse_boolean('granted') }} as is_granted,
        lower(nullif(trim(source), '')) as consent_source,

        ----------  timestamps
        {{ cdp.parse_timestamp('recorded_at') }} as recorded_at,
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
        case
            when consent_id is null then 'missing consent_id'
            when purpose is null or not {{ cdp.is_one_of('purpose', ['email_marketing', 'sms_marketing', 'advertising', 'analytics']) }}
                then 'unknown purpose'
            when is_granted is null then 'missing or unparseable granted'
            when recorded_at is null then 'missing or unparseable recorded_at'
            when app_user_id is null and {{ cdp.normalize_email('email_raw') }} is null
                then 'no usable email or user_id'
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
