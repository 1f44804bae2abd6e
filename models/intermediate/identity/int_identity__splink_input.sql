{#- The nodes Splink compares: records that describe a person (a name at
    least), with the derived columns the comparisons and blocking use.
    Orders carry no name and are linked deterministically only. -#}
with

nodes as (

    select * from {{ ref('int_identity__nodes') }}

),

name_variants as (

    select * from {{ ref('ref_name_variants') }}

),

-- a junk value the guards block must not count as evidence either
blocked_values as (

    select identifier_type, identifier_value
    from {{ ref('int_identity__identifier_guards') }}
    where not is_linkable

),

final as (

    select
        nodes.record_key,
        nodes.source_table,
        lower(nodes.first_name) as first_name,
        lower(nodes.last_name) as last_name,
        coalesce(name_variants.canonical_name, lower(nodes.first_name)) as first_name_canonical,
        nodes.date_of_birth,
        case when blocked_email.identifier_value is null then nodes.email end as email,
        case when blocked_email.identifier_value is null then split_part(nodes.email, '@', 1) end as email_local_part,
        case when blocked_phone.identifier_value is null then nodes.phone end as phone,
        nodes.postal_code,
        lower(nodes.city) as city,
        nodes.country_code
    from nodes
    left join name_variants on name_variants.name_variant = lower(nodes.first_name)
    left join blocked_values as blocked_email
        on blocked_email.identifier_type = 'email' and blocked_email.identifier_value = nodes.email
    left join blocked_values as blocked_phone
        on blocked_phone.identifier_type = 'phone' and blocked_phone.identifier_value = nodes.phone
    where nodes.first_name is not null or nodes.last_name is not null

)

select * from final
