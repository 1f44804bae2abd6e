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

        {{ cdp.row_as_json('landed_row') }} as _raw_row

    from source as landed_row

),

normalized as (

    select
        *,
        {{ cdp.normalize_email('email_raw') }} as email,
        {{ cdp.is_invalid_email('email_raw') }} as is_email_invalid,
        case
            when consent_id is null then 'missing consent_id'
            when purpose is null or purpose not in ('email_marketing', 'sms_marketing', 'advertising', 'analytics')
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
        *,
        {{ cdp.version_rank('consent_id', '_loaded_at desc') }} as _version_rank
    from normalized

)

select * from final
