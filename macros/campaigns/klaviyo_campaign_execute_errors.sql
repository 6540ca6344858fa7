{#-
    The checks that need the graph or the warehouse, run when the campaign model compiles.
    Returns {'errors': [[field, message], ...], 'warnings': [message, ...]}:
    - the model is listed in var('klaviyo_campaigns');
    - campaign id, name and Klaviyo lists are not another campaign's (list names differing
      only in case or spacing from another campaign's are a warning: Klaviyo matches list
      names exactly, so they are different lists);
    - every attribute column is in its source (klaviyo_relation_columns);
    - sub-audience conditions parse and name only the condition source's columns
      (klaviyo_condition_errors);
    - no included or excluded segment has a row with a null amperity_id.
-#}
{% macro klaviyo_campaign_execute_errors(declaration, relations) -%}
    {%- set errors = [] -%}
    {%- set warnings = [] -%}
    {%- if model.name not in var('klaviyo_campaigns') -%}
        {%- do errors.append(['model', "campaign model '" ~ model.name ~ "' is not listed in var klaviyo_campaigns in dbt_project.yml: add it there"]) -%}
    {%- endif -%}
    {%- set own_lists = {} -%}
    {%- for sub_audience in declaration.sub_audiences -%}
        {%- for treatment in sub_audience.treatments if treatment.list_name and treatment.list_name not in own_lists -%}
            {%- do own_lists.update({treatment.list_name: treatment.field ~ '.list_name'}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.unique_id != model.unique_id -%}
        {%- set other = node.config.meta.get('klaviyo_campaign') -%}
        {%- if other is mapping -%}
            {%- set other_label = "campaign '" ~ other.name ~ "' (model " ~ node.name ~ ")" -%}
            {%- if other.campaign_id == declaration.campaign_id -%}
                {%- do errors.append(['campaign_id', "duplicate campaign id '" ~ declaration.campaign_id ~ "': also used by model " ~ node.name]) -%}
            {%- endif -%}
            {%- if other.name == declaration.name -%}
                {%- do errors.append(['name', "duplicate campaign name '" ~ declaration.name ~ "': also used by model " ~ node.name]) -%}
            {%- endif -%}
            {%- set other_lists = {} -%}
            {%- for other_sub_audience in other.sub_audiences -%}
                {%- for treatment in other_sub_audience.treatments if treatment.list_name -%}
                    {%- set spellings = other_lists.setdefault(modules.re.sub('\\s+', ' ', treatment.list_name.strip().lower()), []) -%}
                    {%- if treatment.list_name not in spellings -%}
                        {%- do spellings.append(treatment.list_name) -%}
                    {%- endif -%}
                {%- endfor -%}
            {%- endfor -%}
            {%- for own, own_field in own_lists.items() -%}
                {%- set spellings = other_lists.get(modules.re.sub('\\s+', ' ', own.strip().lower()), []) -%}
                {%- if own in spellings -%}
                    {%- do errors.append([own_field, "list '" ~ own ~ "' is also a list of " ~ other_label ~ ": a Klaviyo list belongs to one campaign (each push would remove the other's members)"]) -%}
                {%- elif spellings | length > 0 -%}
                    {%- do warnings.append("list name '" ~ own ~ "' differs only in case or spacing from list '" ~ spellings | join("', '") ~ "' of " ~ other_label ~ ": Klaviyo matches list names exactly, so they are different lists") -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set columns_cache = klaviyo_invocation_cache('relation_columns') -%}
    {%- for attribute in declaration.attributes if attribute.source in relations
            and modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', attribute.column | string) -%}
        {%- set known = klaviyo_relation_columns(attribute.source, relations, columns_cache) -%}
        {%- if known | length > 0 and (attribute.column | lower) not in known -%}
            {%- do errors.append(['attributes', "unknown attribute column '" ~ attribute.column ~ "' (for Klaviyo attribute '" ~ attribute.name ~ "') in " ~ attribute.source ~ "; its columns are: " ~ known | join(', ')]) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- An attribute mapped to a column its staging view fills with nulls because the source
        table lacks it (renamed or dropped upstream) would clear the field in Klaviyo on every
        profile that had it: a warning, unless var klaviyo_absent_columns lists the column. -#}
    {%- set absent_ok = var('klaviyo_absent_columns', []) or [] -%}
    {%- set absent_ok = (absent_ok | map('lower') | list) if absent_ok is not string else [absent_ok | lower] -%}
    {%- for attribute in declaration.attributes if attribute.source in relations
            and attribute.column is string and (attribute.column | lower) not in absent_ok -%}
        {%- set absent = klaviyo_staged_absent_column(attribute.source, attribute.column, columns_cache) -%}
        {%- if absent is not none -%}
            {%- do warnings.append("Klaviyo attribute '" ~ attribute.name ~ "' is mapped to column '"
                ~ attribute.column ~ "' of " ~ attribute.source ~ ", but its source table " ~ absent.table
                ~ " has no column '" ~ absent.column ~ "' (staged as null): a push would clear '"
                ~ attribute.name ~ "' on every profile that had one. Restore or rename the column, "
                ~ "drop the attribute, or list '" ~ attribute.column ~ "' in var klaviyo_absent_columns "
                ~ "if the table never had it (docs/campaigns.md, \"Attributes\")") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do errors.extend(klaviyo_condition_errors(declaration, relations, columns_cache)) -%}
    {%- do errors.extend(klaviyo_segment_errors(declaration, relations)) -%}
    {{ return({'errors': errors, 'warnings': warnings}) }}
{%- endmacro %}

{#- Lower-cased column names of a model the campaign reads: from the warehouse when it is
    built, else the columns its YAML documents; [] when neither is known. Memoized in `cache`
    (one per invocation: every campaign model reads the same attribute source) by relation. -#}
{% macro klaviyo_relation_columns(model_name, relations, cache) -%}
    {%- set key = model_name ~ '@' ~ relations[model_name] -%}
    {%- if key not in cache -%}
        {%- set found = [] -%}
        {%- set relation = load_relation(relations[model_name]) -%}
        {%- if relation is not none -%}
            {%- for column in adapter.get_columns_in_relation(relation) -%}
                {%- do found.append(column.name | lower) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if found | length == 0 -%}
            {%- for node in graph.nodes.values() if node.resource_type in ['model', 'seed', 'snapshot'] and node.name == model_name -%}
                {%- for column_name in node.columns -%}
                    {%- do found.append(column_name | lower) -%}
                {%- endfor -%}
            {%- endfor -%}
        {%- endif -%}
        {%- do cache.update({key: found}) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{%- endmacro %}

{#- Segments the campaign reads that hold a row with a null amperity_id (a segment returns one
    row per customer): each is an error naming the segment. Segments not built yet (a `dbt
    compile` on an empty warehouse) are not checked. -#}
{% macro klaviyo_segment_errors(declaration, relations) -%}
    {%- set errors = [] -%}
    {%- set probes = [] -%}
    {%- for field in ['include', 'exclude'] -%}
        {%- for segment in declaration[field] if segment in relations and load_relation(relations[segment]) is not none -%}
            {%- do probes.append((field, segment)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if probes | length > 0 -%}
        {%- set query -%}
            {%- for field, segment in probes %}
            select {{ loop.index }} as probe, count(*) as null_ids
            from {{ relations[segment] }}
            where amperity_id is null
            {%- if not loop.last %} union all{% endif %}
            {%- endfor %}
        {%- endset -%}
        {%- for row in run_query(query).rows if row[1] > 0 -%}
            {%- set field, segment = probes[row[0] - 1] -%}
            {%- do errors.append([field, "segment '" ~ segment ~ "' has " ~ row[1] ~ " row(s) with a null amperity_id: a segment returns one row per customer (filter out nulls in the segment)"]) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(errors) }}
{%- endmacro %}

{#- When `column` of model `model_name` is staged by klaviyo_stage_columns from a table that
    lacks it (so it is a typed null): {'table': the table, 'column': its missing column};
    else none. The table is the staging model's one input (a source or a model), read from
    the warehouse; not built yet, or not staged this way: none. Memoized in `cache`. -#}
{% macro klaviyo_staged_absent_column(model_name, column, cache) -%}
    {%- set found = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == model_name -%}
        {%- set staged_from = (node.config.meta or {}).get('klaviyo_staged_from') -%}
        {%- set inputs = node.depends_on.nodes -%}
        {%- if staged_from is mapping and (column | lower) in staged_from and inputs | length == 1 -%}
            {%- set key = 'staged_input@' ~ inputs[0] -%}
            {%- if key not in cache -%}
                {%- set input = graph.sources.get(inputs[0]) or graph.nodes.get(inputs[0]) -%}
                {%- set relation = none -%}
                {%- if input -%}
                    {%- set relation = adapter.get_relation(database=input.database, schema=input.schema,
                        identifier=input.get('identifier') or input.get('alias') or input.name) -%}
                {%- endif -%}
                {%- set names = [] -%}
                {%- if relation is not none -%}
                    {%- for c in adapter.get_columns_in_relation(relation) -%}
                        {%- do names.append(c.name | lower) -%}
                    {%- endfor -%}
                {%- endif -%}
                {%- do cache.update({key: {'table': relation | string, 'columns': names}}) -%}
            {%- endif -%}
            {%- set table = cache[key] -%}
            {%- set wanted = staged_from[column | lower] -%}
            {%- if table.columns | length > 0 and (wanted | lower) not in table.columns -%}
                {%- do found.append({'table': table.table, 'column': wanted}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found[0] if found else none) }}
{%- endmacro %}
