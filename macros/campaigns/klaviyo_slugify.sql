{#- 'Big spenders (US)' -> 'big_spenders_us': the id derived from a sub-audience or treatment name. -#}
{% macro klaviyo_slugify(value) -%}
    {{ return(modules.re.sub('[^a-z0-9]+', '_', (value | string) | lower).strip('_')) }}
{%- endmacro %}
