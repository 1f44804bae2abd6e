{{ config(materialized='view') }}

with

source as (

    select * from {{ source('crm', 'crm_contacts') }}

),

renamed as (

    select
        ----------  ids
        nullif(trim(contact_id), '') as contact_id,

        ----------  contact points
        email as email_raw,
        phone as phone_raw,
        {{ cdp.normalize_country('country') }} as country_code,

        ----------  person
        {{ cdp.normalize_name('first_name') }} as first_name,
        {{ cdp.normalize_name('last_name') }} as last_name,
        nullif(trim(company), '') as company_name,
        nullif(trim(date_of_birth), '') as date_of_birth_raw,
        {{ cdp.parse_date('date_of_birth') }} as date_of_birth,

        ----------  address
        nullif(trim({{ cdp.regex_replace_all('street', '[[:space:]]+', ' ') }}), '') as street,
        {{ cdp.normalize_name('city') }} as city,
        postal_code as postal_code_raw,

        ----------  flags
        coalesce({{ cdp.parse_boolean('is_deleted') }}, false) as is_deleted,

        ----------  timestamps
        nullif(trim(created_at), '') as created_at_raw,
        nullif(trim(updated_at), '') as updated_at_raw,
        {{ cdp.parse_timestamp('created_at') }} as created_at,
        {{ cdp.parse_timestamp('updated_at') }} as updated_at,
        _loaded_at,

        -- serialised in `final`, for quarantined rows only
        {{ cdp.row_as_object('landed_row') }} as _landed_row

    from source as landed_row

),

normalized as (

    select
        *,
        {{ cdp.normalize_email('email_raw') }} as email,
        {{ cdp.is_invalid_email('email_raw') }} as is_email_invalid,
        {{ cdp.normalize_phone('phone_raw', 'country_code') }} as phone,
        (nullif(trim(phone_raw), '') is not null
            and {{ cdp.normalize_phone('phone_raw', 'country_code') }} is null) as is_phone_invalid,
        {{ cdp.normalize_postcode('postal_code_raw', 'country_code') }} as postal_code,
        (date_of_birth_raw is not null and date_of_birth is null) as is_date_of_birth_invalid,
        coalesce(updated_at, created_at) as version_at,
        case
            when contact_id is null then 'missing contact_id'
            -- without any usable timestamp a version cannot be ordered against others
            when coalesce(updated_at, created_at) is null then 'missing or unparseable created_at and updated_at'
        end as _quarantine_reason

    from renamed

),

final as (

    select
        * exclude (_landed_row),
        -- the row as landed, for the quarantine: only rows staging cannot use are serialised, so
        -- staging's queries never build a JSON per row. Versions are ranked by staging
        -- (staging_batch), not here: a window in this view keeps an incremental run's
        -- `_loaded_at` filter above the normalisation of every raw row
        case when _quarantine_reason is not null then {{ cdp.object_as_json('_landed_row') }} end as _raw_row
    from normalized

)

select * from final
