{#- Reference data for country normalisation, kept in a macro (not a seed) so
    staging models read nothing but their own source. Keys are ISO 3166-1
    alpha-2; aliases are compared after upper-casing and removing dots. -#}
{% macro country_reference() -%}
    {{ return({
        'US': {'calling_code': '1', 'trunk_prefix': '1', 'national_digits': 10,
               'aliases': ['US', 'USA', 'UNITED STATES', 'UNITED STATES OF AMERICA', 'AMERICA']},
        'CA': {'calling_code': '1', 'trunk_prefix': '1', 'national_digits': 10,
               'aliases': ['CA', 'CAN', 'CANADA']},
        'GB': {'calling_code': '44', 'trunk_prefix': '0', 'national_digits': none,
               'aliases': ['GB', 'GBR', 'UK', 'UNITED KINGDOM', 'GREAT BRITAIN', 'ENGLAND', 'SCOTLAND', 'WALES']},
        'IE': {'calling_code': '353', 'trunk_prefix': '0', 'national_digits': none,
               'aliases': ['IE', 'IRL', 'IRELAND']},
        'DE': {'calling_code': '49', 'trunk_prefix': '0', 'national_digits': none,
               'aliases': ['DE', 'DEU', 'GERMANY', 'DEUTSCHLAND']},
        'FR': {'calling_code': '33', 'trunk_prefix': '0', 'national_digits': none,
               'aliases': ['FR', 'FRA', 'FRANCE']},
        'NL': {'calling_code': '31', 'trunk_prefix': '0', 'national_digits': none,
               'aliases': ['NL', 'NLD', 'NETHERLANDS', 'THE NETHERLANDS', 'HOLLAND', 'NEDERLAND']},
        'BE': {'calling_code': '32', 'trunk_prefix': '0', 'national_digits': none,
               'aliases': ['BE', 'BEL', 'BELGIUM']},
        'ES': {'calling_code': '34', 'trunk_prefix': '', 'national_digits': 9,
               'aliases': ['ES', 'ESP', 'SPAIN', 'ESPANA']},
        'IT': {'calling_code': '39', 'trunk_prefix': '', 'national_digits': none,
               'aliases': ['IT', 'ITA', 'ITALY', 'ITALIA']},
        'AT': {'calling_code': '43', 'trunk_prefix': '0', 'national_digits': none,
               'aliases': ['AT', 'AUT', 'AUSTRIA', 'OSTERREICH']},
        'CH': {'calling_code': '41', 'trunk_prefix': '0', 'national_digits': none,
               'aliases': ['CH', 'CHE', 'SWITZERLAND', 'SCHWEIZ']},
        'AU': {'calling_code': '61', 'trunk_prefix': '0', 'national_digits': none,
               'aliases': ['AU', 'AUS', 'AUSTRALIA']},
    }) }}
{%- endmacro %}
