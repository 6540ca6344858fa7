{#-
    on-run-start: create the loader's history relation empty when it is missing, so models that
    read source('klaviyo_loader', 'campaign_recipients') build before the first `loader push`.
    The columns match what `loader push` creates (loader/state.py) exactly.
-#}
{% macro klaviyo_history_create_campaign_recipients() %}
    {{ return(adapter.dispatch('klaviyo_history_create_campaign_recipients')()) }}
{% endmacro %}

{% macro default__klaviyo_history_create_campaign_recipients() %}
    {% if execute %}
        {% set relation = klaviyo_history_campaign_recipients_relation() %}
        {% do adapter.create_schema(relation) %}
        {% do run_query(klaviyo_history_campaign_recipients_ddl(relation)) %}
    {% endif %}
    {{ return('select 1 as created') }}
{% endmacro %}

{#- Spark: a Parquet table (Delta is not assumed; the loader appends to it). -#}
{% macro spark__klaviyo_history_create_campaign_recipients() %}
    {% if execute %}
        {% set relation = klaviyo_history_campaign_recipients_relation() %}
        {% do adapter.create_schema(relation) %}
        {% do run_query(klaviyo_history_campaign_recipients_ddl(relation) ~ ' using parquet') %}
    {% endif %}
    {{ return('select 1 as created') }}
{% endmacro %}

{#- The relation, in the target's database where the engine has one (Spark has none). -#}
{% macro klaviyo_history_campaign_recipients_relation() %}
    {{ return(api.Relation.create(
        database=target.get('database'),
        schema=var('klaviyo_loader_schema', 'klaviyo_loader'),
        identifier='campaign_recipients',
    )) }}
{% endmacro %}

{% macro klaviyo_history_campaign_recipients_ddl(relation) %}
    {% set string = dbt.type_string() %}
    {% set flag = dbt.type_boolean() %}
    {% set instant = dbt.type_timestamp() %}
    {% set columns = [
        ('amperity_id', string),
        ('campaign_id', string),
        ('campaign_name', string),
        ('campaign_type', string),
        ('sub_audience_id', string),
        ('sub_audience_name', string),
        ('treatment_id', string),
        ('treatment_name', string),
        ('is_control', flag),
        ('destination_id', string),
        ('destination_name', string),
        ('list_id', string),
        ('segment_id', string),
        ('segment_name', string),
        ('delivery_datetime', instant),
        ('launch_datetime', instant),
        ('dataset_version', string),
        ('account_id', string),
        ('delivery_id', string),
        ('is_sample', flag),
    ] %}
    {% set ddl %}
        create table if not exists {{ relation }} (
        {%- for name, data_type in columns %}
            {{ name }} {{ data_type }}{{ ',' if not loop.last }}
        {%- endfor %}
        )
    {% endset %}
    {{ return(ddl) }}
{% endmacro %}
