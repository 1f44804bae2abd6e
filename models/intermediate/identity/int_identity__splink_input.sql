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

final as (

    select
        nodes.record_key,
        nodes.source_table,
        lower(nodes.first_name) as first_name,
        lower(nodes.last_name) as last_name,
        coalesce(name_variants.canonical_name, lower(nodes.first_name)) as first_name_canonical,
        nodes.date_of_birth,
        nodes.email,
        split_part(nodes.email, '@', 1) as email_local_part,
        nodes.phone,
        nodes.postal_code,
        lower(nodes.city) as city,
        nodes.country_code
    from nodes
    left join name_variants on name_variants.name_variant = lower(nodes.first_name)
    where nodes.first_name is not null or nodes.last_name is not null

)

select * from final
