{#-
    Post-hook of every campaign model (set by klaviyo_campaign): a dbt warning naming the
    campaign and each sub-audience that has no customers after the build (the whole audience
    when it is empty), so an empty Klaviyo list is not a surprise at push. Returns no SQL.
-#}
{% macro klaviyo_warn_empty_sub_audiences() -%}
    {%- set declaration = model.config.meta.get('klaviyo_campaign') -%}
    {%- if execute and declaration is mapping and not flags.EMPTY -%}
        {%- set query -%}
            select distinct sub_audience_id from {{ this }}
        {%- endset -%}
        {%- set present = run_query(query).columns[0].values() | list -%}
        {%- set label = "Campaign '" ~ declaration.name ~ "' (model " ~ model.name ~ ")" -%}
        {%- set empty = declaration.sub_audiences | rejectattr('sub_audience_id', 'in', present) | map(attribute='sub_audience_name') | list -%}
        {%- if present | length == 0 -%}
            {%- do exceptions.warn(label ~ ": the audience is empty (no customer in sub-audience '" ~ empty | join("', '") ~ "'): its Klaviyo lists will hold no one") -%}
        {%- else -%}
            {%- for name in empty -%}
                {%- do exceptions.warn(label ~ ": sub-audience '" ~ name ~ "' has no customers: its treatments send no one") -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
