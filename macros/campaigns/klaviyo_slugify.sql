{#- The id derived from a sub-audience or treatment name: lowercased, each run of characters
    that are not letters, digits (of any script) or combining accents becomes one _, none at
    the ends. 'VIP at risk' -> 'vip_at_risk', 'Clients fidèles' -> 'clients_fidèles',
    '忠実な顧客' -> '忠実な顧客'. Ids are values (list and history keys), never part of a SQL
    identifier. -#}
{% macro klaviyo_slugify(value) -%}
    {{ return(modules.re.sub('(?:[^\\w\\u0300-\\u036f]|_)+', '_', (value | string) | lower).strip('_')) }}
{%- endmacro %}
