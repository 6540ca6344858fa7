{#-
    on-run-end: after a build of the registry, a dbt warning for each Klaviyo list the loader's
    state says a push filled that no campaign targets any more (a renamed list, a removed
    treatment or campaign): it names the campaign(s) that sent to it, the list, the members
    left there, and the commands that show and empty it. The push warns the same way; this
    tells the analyst at build time. Silent when the state does not exist yet (before the
    first `loader push`): the relations are looked up with adapter.get_relation first.
-#}
{% macro klaviyo_warn_untargeted_lists(results) %}
    {{ return(adapter.dispatch('klaviyo_warn_untargeted_lists', 'klaviyo_audiences')(results)) }}
{% endmacro %}

{% macro default__klaviyo_warn_untargeted_lists(results) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set registry_nodes = [] -%}
    {%- for result in results if result.node.name == 'klaviyo_campaigns'
        and result.node.resource_type == 'model' and (result.status | string) == 'success' -%}
        {%- do registry_nodes.append(result.node) -%}
    {%- endfor -%}
    {%- set state_schema = var('klaviyo_loader_schema', 'klaviyo_loader') -%}
    {%- set members = adapter.get_relation(database=target.get('database'), schema=state_schema,
        identifier='list_members') if registry_nodes else none -%}
    {%- if members is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set node = registry_nodes[0] -%}
    {%- set registry = adapter.get_relation(database=node.database, schema=node.schema,
        identifier=node.alias) -%}
    {%- set recipients = adapter.get_relation(database=target.get('database'),
        schema=state_schema, identifier='campaign_recipients') -%}
    {%- if registry is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set targeted = [] -%}
    {%- for row in run_query('select list_names from ' ~ registry) -%}
        {%- set names = fromjson(row[0]) if row[0] else [] -%}
        {%- do targeted.extend(names or []) -%}
    {%- endfor -%}
    {%- set sql -%}
        with

        lists as (
            select list_name, list_id, count(*) as members
            from {{ members }}
            group by list_name, list_id
        ),

        senders as (
            {%- if recipients is not none %}
            select distinct campaign_id, list_id
            from {{ recipients }}
            where list_id is not null
            {%- else %}
            select
                cast(null as {{ dbt.type_string() }}) as campaign_id,
                cast(null as {{ dbt.type_string() }}) as list_id
            where 1 = 0
            {%- endif %}
        ),

        final as (
            select
                lists.list_name,
                lists.list_id,
                lists.members,
                senders.campaign_id
            from lists
            left join senders on lists.list_id = senders.list_id
        )

        select * from final
        order by list_name, list_id, campaign_id
    {%- endset -%}
    {%- for row in run_query(sql) if row[0] not in targeted -%}
        {%- set who = "Campaign '" ~ row[3] ~ "'" if row[3] is not none else "A push" -%}
        {%- do exceptions.warn(who ~ ": the Klaviyo list '" ~ row[0] ~ "' (id " ~ row[1]
            ~ ") still holds " ~ row[2] ~ " member(s) a push sent, but no campaign targets it"
            ~ " any more (renamed?): `loader lists` shows it and `loader prune` empties or"
            ~ " deletes it") -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}
