{{ config(materialized='view') }}

with

source as (

    select * from {{ source('newsletter', 'newsletter_signups') }}

),

renamed as (

    select
        ----------  ids
        nullif(trim(signup_id), '') as signup_id,

        ----------  contact points
        email as email_raw,
        {{ cdp.normalize_name('first_name') }} as first_name,

        ----------  signup
        lower(nullif(trim(source), '')) as signup_source,
        nullif(trim(opted_in), '') as opted_in_raw,
        {{ cdp.parse_boolean('opted_in') }} as is_opted_in,
        nullif(trim(ip_address), '') as ip_address,

        ----------  timestamps
        {{ cdp.parse_timestamp('signed_up_at') }} as signed_up_at,
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
        case
            when signup_id is null then 'missing signup_id'
            when signed_up_at is null then 'missing or unparseable signed_up_at'
            when opted_in_raw is not null and is_opted_in is null then 'unparseable opted_in'
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
