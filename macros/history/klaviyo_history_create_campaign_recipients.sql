{#-
    on-run-start: create the loader's history relation empty when it is missing, so models that
    read source('klaviyo_loader', 'campaign_recipients') build before the first `loader push`.
    The columns are the source's (models/history/_history__sources.yml); the loader's view of
    that name has the same (loader/store/schema.py; tests/contracts/ compares them). It is a
    table here: the first push renames it campaign_recipients_legacy (rows kept) and puts the
    view over its narrow tables in its place (docs/history.md, "How it is stored"); once the
    view exists, `create table if not exists` does nothing on DuckDB, PostgreSQL and Spark.
-#}
{% macro klaviyo_history_create_campaign_recipients() %}
    {{ return(adapter.dispatch('klaviyo_history_create_campaign_recipients')()) }}
{% endmacro %}

{% macro default__klaviyo_history_create_campaign_recipients() %}
    {% set relation = klaviyo_history_campaign_recipients_relation() %}
    {% set ddl = klaviyo_history_campaign_recipients_ddl(relation) if execute else none %}
    {% if ddl %}
        {% do adapter.create_schema(relation) %}
        {% do run_query(ddl) %}
    {% endif %}
    {{ return('select 1 as created') }}
{% endmacro %}

{#- Spark: a Parquet table (Delta is not assumed; the loader appends to it). -#}
{% macro spark__klaviyo_history_create_campaign_recipients() %}
    {% set relation = klaviyo_history_campaign_recipients_relation() %}
    {% set ddl = klaviyo_history_campaign_recipients_ddl(relation) if execute else none %}
    {% if ddl %}
        {% do adapter.create_schema(relation) %}
        {% do run_query(ddl ~ ' using parquet') %}
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

{#-
    The columns and their types come from the source's declaration
    (models/history/_history__sources.yml), the one owner of this contract: varchar, boolean and
    timestamp become the engine's string, boolean and timestamp types. None when the project
    does not declare the source (nothing in it reads the history; `loader push` creates it).
-#}
{% macro klaviyo_history_campaign_recipients_ddl(relation) %}
    {% set engine_types = {
        'varchar': dbt.type_string(),
        'boolean': dbt.type_boolean(),
        'timestamp': dbt.type_timestamp(),
    } %}
    {% set declared = graph.sources.values()
        | selectattr('source_name', 'equalto', 'klaviyo_loader')
        | selectattr('name', 'equalto', 'campaign_recipients') | list %}
    {% if declared | length == 0 %}
        {{ return(none) }}
    {% endif %}
    {% set columns = [] %}
    {% for column in declared[0].columns.values() %}
        {% if column.data_type not in engine_types %}
            {% do exceptions.raise_compiler_error(
                "source klaviyo_loader.campaign_recipients: column " ~ column.name
                ~ " has data_type " ~ column.data_type ~ "; use varchar, boolean or timestamp") %}
        {% endif %}
        {% do columns.append((column.name, engine_types[column.data_type])) %}
    {% endfor %}
    {% set ddl %}
        create table if not exists {{ relation }} (
        {%- for name, data_type in columns %}
            {{ name }} {{ data_type }}{{ ',' if not loop.last }}
        {%- endfor %}
        )
    {% endset %}
    {{ return(ddl) }}
{% endmacro %}
