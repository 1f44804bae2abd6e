with

requests as (

    {{ cdp.staging_batch('deletion_requests') }}

),

final as (

    select
        ----------  ids
        request_id,
        'deletion_requests:' || request_id as record_key,
        app_user_id,

        ----------  identifiers, hashed: the request outlives the person it erases
        case when email is not null then md5(email) end as email_hash,
        case when phone is not null then md5(phone) end as phone_hash,

        ----------  request
        request_status,

        ----------  timestamps
        requested_at,
        _loaded_at

    from requests
    where {{ cdp.is_staged('deletion_requests') }}

)

select * from final
