{#- Postcode in its country's canonical layout: upper case, no stray
    punctuation; US ZIP codes cut to 5 digits (ZIP+4 dropped, lost leading zeros
    restored), UK postcodes with a single space before the inward code, Dutch
    postcodes as '1234 AB'. Null when empty. -#}
{% macro normalize_postcode(column, country_code) -%}
    {%- set compact = cdp.regex_replace_all("upper(trim(" ~ column ~ "))", '[^A-Z0-9]', '') -%}
    case
        when {{ compact }} = '' then null
        when {{ country_code }} = 'US' and {{ cdp.regex_full_match(compact, '[0-9]{3,9}') }}
            then lpad(left({{ compact }}, case when length({{ compact }}) > 5 then 5 else length({{ compact }}) end), 5, '0')
        when {{ country_code }} = 'GB' and length({{ compact }}) between 5 and 7
            then left({{ compact }}, length({{ compact }}) - 3) || ' ' || right({{ compact }}, 3)
        when {{ country_code }} = 'NL' and {{ cdp.regex_full_match(compact, '[0-9]{4}[A-Z]{2}') }}
            then left({{ compact }}, 4) || ' ' || right({{ compact }}, 2)
        else {{ compact }}
    end
{%- endmacro %}
