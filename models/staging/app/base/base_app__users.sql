{{ config(materialized='view') }}

with

source as (

    select * from {{ source('app', 'app_users') }}

),

renamed as (

    select
        ----------  ids
        nullif(trim(user_id), '') as app_user_id,

        ----------  contact points
        email as email_raw,
        phone as phone_raw,

        ----------  person
        {{ cdp.normalize_name('full_name') }} as full_name,

        ----------  product
        lower(nullif(trim(plan), '')) as plan,

        ----------  timestamps
        nullif(trim(signup_at), '') as signup_at_raw,
        nullif(trim(last_login_at), '') as last_login_at_raw,
        nullif(trim(deleted_at), '') as deleted_at_raw,
        {{ cdp.parse_timestamp('signup_at') }} as signup_at,
        {{ cdp.parse_timestamp('last_login_at') }} as last_login_at,
        {{ cdp.parse_timestamp('deleted_at') }} as deleted_at,
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
        -- a deletion with an unreadable date is still a deletion
        deleted_at_raw is not null as is_deleted,
        {{ cdp.first_name_of('full_name') }} as first_name,
        {{ cdp.last_name_of('full_name') }} as last_name,
        case
            when app_user_id is null then 'missing user_id'
            when signup_at is null then 'missing or unparseable signup_at'
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
