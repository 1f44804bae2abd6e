with

tickets as (

    select * from {{ ref('base_helpdesk__tickets') }}

),

final as (

    select
        ----------  ids
        ticket_id,
        'support_tickets:' || ticket_id as record_key,

        ----------  requester
        email,
        is_email_invalid,
        phone,
        is_phone_invalid,
        full_name,
        first_name,
        last_name,

        ----------  ticket
        subject,
        ticket_status,

        ----------  timestamps
        created_at,
        _loaded_at

    from tickets
    where {{ cdp.is_staged('support_tickets') }}

)

select * from final
