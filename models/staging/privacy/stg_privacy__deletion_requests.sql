with

requests as (

    select * from {{ ref('base_privacy__deletion_requests') }}

),

final as (

    select
        ----------  ids
        request_id,
        'deletion_requests:' || request_id as record_key,
        email,
        app_user_id,
        phone,

        ----------  request
        request_status,

        ----------  timestamps
        requested_at,
        _loaded_at

    from requests
    where {{ cdp.is_staged() }}

)

select * from final
