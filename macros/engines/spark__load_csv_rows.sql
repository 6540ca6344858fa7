{#-
    Seeds on Spark: dbt-spark's loader binds every value as a quoted string, so an empty CSV
    cell (None) arrives as the text 'None' with the session method. This is dbt-spark's
    spark__load_csv_rows with one change: a null cell is written as `null` instead of a binding.
    Overrides dbt's load_csv_rows for the spark adapter only.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}

    {% set batch_size = get_batch_size() %}
    {% set column_override = model['config'].get('column_types', {}) %}

    {% set statements = [] %}

    {% for chunk in agate_table.rows | batch(batch_size) %}
        {% set bindings = [] %}

        {% set sql %}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                    {%- set type = column_override.get(col_name, inferred_type) -%}
                    {%- if row[loop.index0] is none -%}
                        cast(null as {{ type }})
                    {%- else -%}
                        {%- do bindings.append(row[loop.index0]) -%}
                        cast({{ get_binding_char() }} as {{ type }})
                    {%- endif -%}
                    {%- if not loop.last %},{% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
        {% endset %}

        {% do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) %}

        {% if loop.index0 == 0 %}
            {% do statements.append(sql) %}
        {% endif %}
    {% endfor %}

    {# Return SQL so we can render it out into the compiled files #}
    {{ return(statements[0]) }}
{% endmacro %}
