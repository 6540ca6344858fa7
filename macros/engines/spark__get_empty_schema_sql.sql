{#-
    Model contracts declare strings as `varchar`, which DuckDB and PostgreSQL know and Spark
    refuses without a length (DATATYPE_MISSING_SIZE). On Spark the contract check reads the
    portable names `varchar` and `text` as Spark's `string`, so the same YAML holds everywhere.
    Overrides dbt's get_empty_schema_sql for the spark adapter only.
-#}
{% macro spark__get_empty_schema_sql(columns) %}
    {%- set spark_columns = {} -%}
    {%- for name in columns -%}
        {%- set column = columns[name] -%}
        {%- set data_type = column.get('data_type') -%}
        {%- if data_type is string and data_type.strip().lower() in ('varchar', 'text') -%}
            {%- do spark_columns.update({name: dict(column, data_type='string')}) -%}
        {%- else -%}
            {%- do spark_columns.update({name: column}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(dbt.default__get_empty_schema_sql(spark_columns)) }}
{% endmacro %}
