{#-
    Sub-audience conditions checked when the campaign compiles, before any of its SQL runs:
    each must be one SQL boolean expression (it is placed in `case when (<condition>) then 1
    else 0 end`), every column it names must be a column of the condition source (unqualified,
    or qualified as condition_source.<column>), and on DuckDB every function or operator it
    calls must be loaded (the build never installs or loads an extension: `lifetime_revenue
    >>= 5` names an operator of an extension, not a comparison). Returns [[field, message], ...].
-#}
{% macro klaviyo_condition_errors(declaration, relations, columns_cache) -%}
    {%- set errors = [] -%}
    {%- set conditioned = declaration.sub_audiences | selectattr('condition') | list -%}
    {%- if conditioned | length == 0 or declaration.condition_source not in relations -%}
        {{ return(errors) }}
    {%- endif -%}
    {%- set columns = klaviyo_relation_columns(declaration.condition_source, relations, columns_cache) -%}
    {%- set parsed = klaviyo_parse_sql_conditions(conditioned | map(attribute='condition') | list) -%}
    {%- set special = ['current_date', 'current_time', 'current_timestamp', 'localtime', 'localtimestamp'] -%}
    {%- for sub_audience in conditioned -%}
        {%- set result = parsed[loop.index0] -%}
        {%- set field = 'sub_audiences[' ~ (sub_audience.sub_audience_order - 1) ~ '].condition' -%}
        {%- set what = "condition of sub-audience '" ~ sub_audience.sub_audience_name ~ "'" -%}
        {%- if result.error -%}
            {%- do errors.append([field, what ~ " is not one SQL boolean expression (" ~ result.error ~ "): " ~ sub_audience.condition]) -%}
        {%- else -%}
            {%- set unknown = [] -%}
            {%- for parts in result.columns -%}
                {%- set name = (parts[1] if parts | length > 1 and (parts[0] | lower) == 'condition_source' else parts[0]) | lower -%}
                {%- if columns | length > 0 and name not in columns and name not in special and name not in unknown -%}
                    {%- do unknown.append(name) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- for name in unknown -%}
                {%- do errors.append([field, what ~ " names column '" ~ name ~ "', which " ~ declaration.condition_source ~ " does not have (its columns: " ~ columns | join(', ') ~ ")"]) -%}
            {%- endfor -%}
            {%- for name in result.unknown_functions -%}
                {%- do errors.append([field, what ~ " calls '" ~ name ~ "', which is not a function or operator the warehouse has loaded (the build does not load extensions)"]) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(errors) }}
{%- endmacro %}

{#- For each condition: {'error': <why it is not one SQL expression, or none>, 'columns': [the
    column references, each a list of name parts], 'unknown_functions': [names the warehouse
    does not know]}. -#}
{% macro klaviyo_parse_sql_conditions(conditions) -%}
    {{ return(adapter.dispatch('klaviyo_parse_sql_conditions', 'klaviyo_audiences')(conditions)) }}
{%- endmacro %}

{#- DuckDB: its own parser (json_serialize_sql, which parses without binding), then its
    catalog for the functions and operators called. Nothing is loaded or installed. -#}
{% macro duckdb__klaviyo_parse_sql_conditions(conditions) -%}
    {%- set json_cache = klaviyo_invocation_cache('duckdb_json') -%}
    {%- set json_loaded = json_cache.get('loaded') or run_query("select count(*) from duckdb_extensions() where extension_name = 'json' and loaded").rows[0][0] -%}
    {%- if json_loaded -%}{%- do json_cache.update({'loaded': json_loaded}) -%}{%- endif -%}
    {%- if json_loaded == 0 -%}
        {{ return(default__klaviyo_parse_sql_conditions(conditions)) }}
    {%- endif -%}
    {%- set query -%}
        {%- for condition in conditions %}
        select {{ loop.index }} as position, json_serialize_sql({{ klaviyo_string_literal('select case when (' ~ condition ~ ') then 1 else 0 end as m') }}) as parsed
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
        order by position
    {%- endset -%}
    {%- set results = [] -%}
    {%- set functions = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- set tree = fromjson(row[1]) -%}
        {%- set found = {'error': none, 'columns': [], 'functions': [], 'unknown_functions': []} -%}
        {%- if tree.error -%}
            {%- do found.update({'error': tree.error_message}) -%}
        {%- else -%}
            {%- set node = tree.statements[0].node if tree.statements | length == 1 else {} -%}
            {%- if node.get('type') != 'SELECT_NODE' or node.select_list | length != 1 or node.from_table.type != 'EMPTY' or node.where_clause is not none -%}
                {%- do found.update({'error': 'it reaches outside its parentheses'}) -%}
            {%- else -%}
                {%- do klaviyo_sql_references(node.select_list, found) -%}
                {%- do functions.extend(found.functions) -%}
            {%- endif -%}
        {%- endif -%}
        {%- do results.append(found) -%}
    {%- endfor -%}
    {%- if functions | length > 0 -%}
        {%- set names = functions | unique | list -%}
        {%- set query -%}
            select distinct function_name from duckdb_functions()
            where function_name in ({% for name in names %}{{ klaviyo_string_literal(name) }}{{ ', ' if not loop.last }}{% endfor %})
        {%- endset -%}
        {%- set known = run_query(query).columns[0].values() | list -%}
        {%- for found in results -%}
            {%- for name in found.functions | unique if name not in known -%}
                {%- do found.unknown_functions.append(name) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(results) }}
{%- endmacro %}

{#- Collect the column references and function names of a parsed DuckDB expression into
    `found` (lambdas and subqueries are not entered: their names are their own). -#}
{% macro klaviyo_sql_references(node, found) -%}
    {%- if node is mapping -%}
        {%- if node.get('class') in ['LAMBDA', 'SUBQUERY'] -%}
            {{ return(none) }}
        {%- endif -%}
        {%- if node.get('class') == 'COLUMN_REF' -%}
            {%- do found.columns.append(node.column_names) -%}
        {%- endif -%}
        {%- if node.get('function_name') is string -%}
            {%- do found.functions.append(node.function_name) -%}
        {%- endif -%}
        {%- for value in node.values() if value is mapping or (value is sequence and value is not string) -%}
            {%- do klaviyo_sql_references(value, found) -%}
        {%- endfor -%}
    {%- elif node is sequence and node is not string -%}
        {%- for value in node -%}
            {%- do klaviyo_sql_references(value, found) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- Other warehouses: the column names a condition uses, read by a tokenizer (comments, string
    literals, numbers, keywords and type names, function names and what follows `::` are not columns);
    syntax and functions are left to the warehouse when the model runs. -#}
{% macro default__klaviyo_parse_sql_conditions(conditions) -%}
    {%- set keywords = ['all', 'and', 'any', 'as', 'asc', 'between', 'bigint', 'bool', 'boolean', 'both', 'by',
        'case', 'cast', 'char', 'character', 'collate', 'current_date', 'current_time', 'current_timestamp', 'date',
        'day', 'days', 'dec', 'decimal', 'desc', 'distinct', 'double', 'dow', 'doy', 'else', 'end', 'epoch',
        'escape', 'exists', 'extract', 'false', 'filter', 'float', 'from', 'glob', 'hour', 'hours', 'ilike', 'in',
        'int', 'integer', 'interval', 'is', 'isodow', 'leading', 'like', 'localtime', 'localtimestamp', 'minute',
        'minutes', 'month', 'months', 'not', 'null', 'numeric', 'or', 'precision', 'quarter', 'real', 'regexp',
        'rlike', 'second', 'seconds', 'similar', 'smallint', 'some', 'string', 'text', 'then', 'time',
        'timestamp', 'timestamptz', 'to', 'trailing', 'true', 'try_cast', 'unknown', 'varchar', 'varying', 'week',
        'weeks', 'when', 'with', 'without', 'year', 'years', 'zone'] -%}
    {%- set results = [] -%}
    {%- for condition in conditions -%}
        {%- set columns = [] -%}
        {%- set text = modules.re.sub("'([^']|'')*'|/[*](.|\n)*?[*]/|--[^\n]*", ' ', condition) -%}
        {%- for match in modules.re.finditer('"((?:[^"]|"")*)"', text) -%}
            {%- do columns.append([match.group(1).replace('""', '"')]) -%}
        {%- endfor -%}
        {%- set text = modules.re.sub('"([^"]|"")*"', ' ', text) -%}
        {%- set pattern = '(::\\s*)?(?<![\\w.])([A-Za-z_][A-Za-z0-9_$]*)(\\s*\\.\\s*([A-Za-z_][A-Za-z0-9_$]*))?(\\s*\\()?' -%}
        {%- for match in modules.re.finditer(pattern, text) -%}
            {%- set name = match.group(2) | lower -%}
            {%- if not match.group(1) and not match.group(5) and name not in keywords
                    and (name != 'condition_source' or match.group(4)) -%}
                {%- do columns.append([match.group(2), match.group(4)] if match.group(4) else [match.group(2)]) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do results.append({'error': none, 'columns': columns, 'unknown_functions': []}) -%}
    {%- endfor -%}
    {{ return(results) }}
{%- endmacro %}
