{{ config(
    materialized='incremental',
    unique_key='ticket_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_erased_records('support_tickets') }}"
) }}

{#- Incremental (the newest delivery of a key wins): an incremental run
    restages only the tickets with newly landed rows, ranking all deliveries
    of each such key (see the macro staging_batch). Every column depends on
    the key's own rows only, so this equals a full build. -#}
with

tickets as (

    {{ cdp.staging_batch('support_tickets') }}

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
