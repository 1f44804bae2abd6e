{#- E.164 form (`+<country code><number>`) of a phone number written in any
    national or international format, or null when it cannot be one.
    `country_code` is an ISO alpha-2 expression for the record's country; when
    it is null the var `cdp_default_country` decides how national numbers
    (no `+`/`00` prefix) are read. Extensions are dropped. -#}
{% macro normalize_phone(column, country_code=none) -%}
    {{ return(adapter.dispatch('normalize_phone', 'cdp')(column, country_code)) }}
{%- endmacro %}

{% macro default__normalize_phone(column, country_code=none) -%}
    {%- set countries = cdp.country_reference() -%}
    {%- set default_country = var('cdp_default_country', 'US') -%}
    {%- set country = "coalesce(" ~ (country_code or 'null') ~ ", '" ~ default_country ~ "')" -%}
    {%- set core = cdp.regex_replace_all("lower(trim(" ~ column ~ "))", '[ ]*(ext[.]?|x|#)[ ]*[0-9]+$', '') -%}
    {%- set digits = cdp.regex_replace_all(core, '[^0-9]', '') -%}
    {%- set e164 -%}
        case
            when {{ core }} like '+%' then '+' || {{ digits }}
            when {{ digits }} like '00%' then '+' || substr({{ digits }}, 3)
            when {{ digits }} like '011%' and {{ country }} in ('US', 'CA') then '+' || substr({{ digits }}, 4)
            {%- for iso, c in countries.items() %}
            when {{ country }} = '{{ iso }}' then
                {%- if c['national_digits'] and c['trunk_prefix'] == c['calling_code'] %}
                case
                    when length({{ digits }}) = {{ c['national_digits'] }} then '+{{ c['calling_code'] }}' || {{ digits }}
                    when length({{ digits }}) = {{ c['national_digits'] + 1 }} and {{ digits }} like '{{ c['calling_code'] }}%' then '+' || {{ digits }}
                end
                {%- elif c['trunk_prefix'] %}
                case
                    when {{ digits }} like '{{ c['trunk_prefix'] }}%' then '+{{ c['calling_code'] }}' || substr({{ digits }}, {{ c['trunk_prefix'] | length + 1 }})
                    when {{ digits }} like '{{ c['calling_code'] }}%' and length({{ digits }}) >= {{ c['calling_code'] | length + 8 }} then '+' || {{ digits }}
                end
                {%- else %}
                case
                    when {{ digits }} like '{{ c['calling_code'] }}%' and length({{ digits }}) >= {{ c['calling_code'] | length + 9 }} then '+' || {{ digits }}
                    else '+{{ c['calling_code'] }}' || {{ digits }}
                end
                {%- endif %}
            {%- endfor %}
        end
    {%- endset -%}
    case
        when {{ cdp.regex_full_match(e164, '[+][1-9][0-9]{7,14}') }}
            -- a North American number has exactly 10 digits and an area code from 2-9
            and (({{ e164 }}) not like '+1%' or {{ cdp.regex_full_match(e164, '[+]1[2-9][0-9]{9}') }})
            -- placeholders such as 0000000000 or 123456789 are not phones
            and replace({{ digits }}, substr({{ digits }}, 1, 1), '') <> ''
            and {{ digits }} not like '%123456789%'
        then {{ e164 }}
    end
{%- endmacro %}
