{#-
    Seeds on Spark: dbt-spark's own spark__load_csv_rows passes each value as a binding that its
    `session` connection formats as '<value>' - an empty CSV cell (null) becomes the string
    'None' and a quote in a value breaks the statement. This override renders each value as a
    literal instead: null, a number, true/false, or a string escaped for Spark
    (klaviyo_string_literal), cast to the column's type. Same batches and column types as
    dbt-spark's. Used for seeds/ (an empty trunk_prefix must load as null).
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    cast({{ klaviyo_seed_literal(value) }} as {{ types[loop.index0] }}){{ ',' if not loop.last }}
                {%- endfor -%}){{ ',' if not loop.last }}
            {% endfor -%}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{#- A seed cell as a SQL literal (see spark__load_csv_rows). -#}
{% macro klaviyo_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        {{ klaviyo_string_literal(value | string) }}
    {%- endif -%}
{%- endmacro %}
