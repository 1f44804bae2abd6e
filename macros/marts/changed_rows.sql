{#- The rows of an incremental fact that differ from what the table holds.
    A fact's rows can change without new raw data (identity resolution moves a
    record to another customer, a customer is erased, a device gets linked),
    so an incremental run recomputes the fact from its staged inputs but
    writes only new and changed rows (delete+insert on the key); rows whose
    key left the staged input are deleted by `delete_vanished_rows`. The
    result is the full refresh's, by construction. -#}
{% macro changed_rows(cte) -%}
    select * from {{ cte }}
    {%- if is_incremental() %}
    except
    select * from {{ this }}
    {%- endif %}
{%- endmacro %}
