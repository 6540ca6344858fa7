{#-
    The select list of a staging model over a source table whose optional columns may be
    absent: each of `columns` ({'name': ..., 'type': ..., 'required': true|false, 'from': ...})
    is the table's column `from` (default: `name`; matched case-insensitively) cast to `type`
    and named `name`, or a typed null when the table lacks an optional one (one line in the
    build log names them). A table lacking a
    required column, or missing altogether, fails compilation with a message naming the table
    and every missing column. `source_label` names the table in messages ('amperity.customer_360').

    Reads the table's columns from the warehouse (adapter.get_columns_in_relation), so the
    same model works on DuckDB, PostgreSQL and Spark; at parse time every column is rendered.
-#}
{% macro klaviyo_stage_columns(source_relation, columns, source_label) -%}
    {{ return(adapter.dispatch('klaviyo_stage_columns', 'klaviyo_audiences')(source_relation, columns, source_label)) }}
{%- endmacro %}

{% macro default__klaviyo_stage_columns(source_relation, columns, source_label) -%}
    {#- Recorded in the model's config (at parse time): each optional column's name -> the
        table's column it is staged from, so a campaign mapping an attribute to one can tell
        a column the table lacks (klaviyo_staged_absent_column) from one that is null. -#}
    {%- set staged_from = {} -%}
    {%- for column in columns if not column.required -%}
        {%- do staged_from.update({column.name | lower: column.get('from') or column.name}) -%}
    {%- endfor -%}
    {%- do config(meta={'klaviyo_staged_from': staged_from}) -%}
    {%- set present = {} -%}
    {%- if execute -%}
        {%- set relation = adapter.get_relation(
            database=source_relation.database, schema=source_relation.schema,
            identifier=source_relation.identifier) -%}
        {%- if relation is none -%}
            {%- do exceptions.raise_compiler_error(
                "Source table " ~ source_label ~ " (" ~ source_relation ~ ") was not found: point the vars "
                ~ "amperity_source_database / amperity_source_schema at the schema holding it (docs/data.md)") -%}
        {%- endif -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do present.update({column.name | lower: column.name}) -%}
        {%- endfor -%}
        {%- set missing_required = [] -%}
        {%- set missing_optional = [] -%}
        {%- for column in columns if (column.get('from') or column.name) | lower not in present -%}
            {%- do (missing_required if column.required else missing_optional).append(column.get('from') or column.name) -%}
        {%- endfor -%}
        {%- if missing_required | length > 0 -%}
            {%- do exceptions.raise_compiler_error(
                "Source table " ~ source_label ~ " (" ~ relation ~ ") lacks required column(s): "
                ~ missing_required | join(', ') ~ ". Add them to the table, or name the table's own column with 'from' in "
                ~ model.name ~ "'s column list (docs/data.md, \"Pointing the project at your own tables\")") -%}
        {%- endif -%}
        {%- if missing_optional | length > 0 -%}
            {%- do log(model.name ~ ": source table " ~ source_label ~ " (" ~ relation ~ ") has no column(s) "
                ~ missing_optional | join(', ') ~ "; staged as typed nulls", info=true) -%}
        {%- endif -%}
    {%- endif -%}
    {%- for column in columns -%}
        {%- set source_name = column.get('from') or column.name -%}
        {%- set actual = present.get(source_name | lower) -%}
        {%- if not execute or actual == source_name | lower %}
        cast({{ source_name }} as {{ column.type }}) as {{ column.name }}
        {%- elif actual %}
        cast({{ adapter.quote(actual) }} as {{ column.type }}) as {{ column.name }}
        {%- else %}
        cast(null as {{ column.type }}) as {{ column.name }}
        {%- endif %}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
