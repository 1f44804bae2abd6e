{{ config(
    materialized='incremental',
    unique_key='contact_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_erased_records('crm_contacts') }}"
) }}

{#- Incremental (versioned): an incremental run restages only the contacts
    with newly landed versions, ranking all versions of each such key (see
    the macro staging_batch). One rule reads the run time: a date of birth in
    the future is nulled and flagged, and becomes plausible once that date has
    passed. So the contacts staged with a flagged date of birth are restaged
    on every run too (a date in the past stays in the past, so no other staged
    row changes with the clock). -#}
with

contacts as (

    {{ cdp.staging_batch(
        'crm_contacts',
        restage='select contact_id from ' ~ this ~ ' where is_date_of_birth_invalid'
    ) }}

),

final as (

    select
        ----------  ids
        contact_id,
        'crm_contacts:' || contact_id as record_key,

        ----------  contact points
        email,
        is_email_invalid,
        phone,
        is_phone_invalid,

        ----------  person
        first_name,
        last_name,
        company_name,
        -- implausible dates (future, before 1900) are typos, not birthdays
        case
            when date_of_birth between cast('1900-01-01' as date) and cast({{ cdp.run_at() }} as date)
                then date_of_birth
        end as date_of_birth,
        is_date_of_birth_invalid
            or not coalesce(date_of_birth between cast('1900-01-01' as date) and cast({{ cdp.run_at() }} as date), true)
            as is_date_of_birth_invalid,

        ----------  address
        street,
        city,
        postal_code,
        country_code,

        ----------  flags
        is_deleted,

        ----------  timestamps
        created_at,
        updated_at,
        _loaded_at

    from contacts
    where {{ cdp.is_staged('crm_contacts') }}

)

select * from final
