{{ config(
    materialized='incremental',
    unique_key='signup_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_erased_records('newsletter_signups') }}"
) }}

{#- Incremental (the newest delivery of a key wins): an incremental run
    restages only the sign-ups with newly landed rows, ranking all deliveries
    of each such key (see the macro staging_batch). Every column depends on
    the key's own rows only, so this equals a full build. -#}
with

signups as (

    {{ cdp.staging_batch('newsletter_signups') }}

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
