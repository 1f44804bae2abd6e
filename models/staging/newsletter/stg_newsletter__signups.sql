with

signups as (

    select * from {{ ref('base_newsletter__signups') }}

),

final as (

    select
        ----------  ids
        signup_id,
        'newsletter_signups:' || signup_id as record_key,

        ----------  contact points
        email,
        is_email_invalid,
        first_name,

        ----------  signup
        signup_source,
        -- a form without an opt-in box records no statement, which is not consent
        coalesce(is_opted_in, false) as is_opted_in,
        ip_address,

        ----------  timestamps
        signed_up_at,
        _loaded_at

    from signups
    where {{ cdp.is_staged('newsletter_signups') }}

)

select * from final
