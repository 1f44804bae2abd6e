with

consent_events as (

    select * from {{ ref('base_consent__events') }}

),

final as (

    select
        ----------  ids
        consent_id,
        'consent_events:' || consent_id as record_key,
        email,
        is_email_invalid,
        app_user_id,

        ----------  statement
        purpose,
        is_granted,
        consent_source,

        ----------  timestamps
        recorded_at,
        _loaded_at

    from consent_events
    where {{ cdp.is_staged('consent_events') }}

)

select * from final
