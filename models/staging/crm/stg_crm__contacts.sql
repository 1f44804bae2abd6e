with

contacts as (

    select * from {{ ref('base_crm__contacts') }}

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
