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
        *,
        {{ cdp.version_rank('app_user_id', '_loaded_at desc, last_login_at desc nulls last') }} as _version_rank
    from normalized

)

select * from final
