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
        -- null: the form had no opt-in box, so no statement was made (consent reads that as not granted)
        is_opted_in,
        ip_address,

        ----------  timestamps
        signed_up_at,
        _loaded_at

    from signups
    where {{ cdp.is_staged('newsletter_signups') }}

)

select * from final
