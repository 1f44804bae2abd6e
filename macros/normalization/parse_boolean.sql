{#- Boolean from the spellings loaders use (true/false, t/f, yes/no, y/n, 1/0,
    on/off, any case); null for anything else. -#}
{% macro parse_boolean(column) -%}
    case lower(trim(cast({{ column }} as {{ dbt.type_string() }})))
        when 'true' then true when 't' then true when 'yes' then true when 'y' then true
        when '1' then true when 'on' then true
        when 'false' then false when 'f' then false when 'no' then false when 'n' then false
        when '0' then false when 'off' then false
    end
{%- endmacro %}
