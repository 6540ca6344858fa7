{#-
    The audience funnel of every campaign, as built now (and sent at its latest delivery):
    one row per campaign x step x item, in step order:

    1 included_segment (per include segment: its customers), 2 included (their union),
    3 excluded_segment (per exclude segment: included customers it removes), 4 excluded (all
    removed), 5 eligible (included minus excluded), 6 unassigned (eligible customers no
    sub-audience takes), 7 sub_audience (customers per sub-audience), 8 treatment (customers
    per treatment, with the declared percent and the share of its sub-audience), 9 shrink
    (customers of the treatment not sendable: missing, invalid or duplicate identifier),
    10 sendable (the rest), 11 recipients (recorded at the campaign's latest delivery: sent,
    or held out for a control group), 12 shrink_reason (customers per shrink reason).
-#}
{%- set campaign_refs = {} -%}
{%- for campaign_model in var('klaviyo_campaigns') -%}
    {%- do campaign_refs.update({campaign_model: ref(campaign_model)}) -%}
{%- endfor -%}
{%- set declarations = klaviyo_listed_campaigns() if execute else [] -%}
{%- set string = dbt.type_string() -%}
{%- set count_type = dbt.type_bigint() -%}
{%- set decimal = dbt.type_numeric() -%}
{%- set lit = klaviyo_string_literal -%}
-- noqa: disable=layout.indent
with

campaign_recipients as (
    select * from {{ source('klaviyo_loader', 'campaign_recipients') }}
),

latest_deliveries as (
    select
        campaign_id,
        max(delivery_datetime) as delivery_datetime
    from campaign_recipients
    where not coalesce(is_sample, false)
    group by campaign_id
),

latest_recipients as (
    select
        campaign_recipients.campaign_id,
        campaign_recipients.sub_audience_id,
        campaign_recipients.treatment_id,
        count(distinct campaign_recipients.amperity_id) as customers
    from campaign_recipients
    inner join latest_deliveries
        on
            campaign_recipients.campaign_id = latest_deliveries.campaign_id
            and campaign_recipients.delivery_datetime = latest_deliveries.delivery_datetime
    where not coalesce(campaign_recipients.is_sample, false)
    group by campaign_recipients.campaign_id, campaign_recipients.sub_audience_id, campaign_recipients.treatment_id
),

{% for d in declarations -%}
{%- set i = loop.index -%}
{%- set label = "Campaign '" ~ d.name ~ "' (model " ~ d.model_name ~ ")" %}
{%- set cid = lit(d.campaign_id) %}
audience_{{ i }} as (
    select * from {{ campaign_refs[d.model_name] }}
),

included_{{ i }} as (
    {%- for segment in d.include %}
    select amperity_id from {{ results_model_relation(segment, label) }}
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- endfor %}
),

excluded_{{ i }} as (
    {%- for segment in d.exclude %}
    select amperity_id from {{ results_model_relation(segment, label) }}
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- else %}
    select amperity_id from included_{{ i }} where 1 = 0
    {%- endfor %}
),

eligible_{{ i }} as (
    select amperity_id from included_{{ i }}
    where not exists (select 1 from excluded_{{ i }} where excluded_{{ i }}.amperity_id = included_{{ i }}.amperity_id)
),

sub_audience_counts_{{ i }} as (
    select
        sub_audience_id,
        count(distinct amperity_id) as customers
    from audience_{{ i }}
    group by sub_audience_id
),

treatment_counts_{{ i }} as (
    select
        sub_audience_id,
        treatment_id,
        count(distinct amperity_id) as customers,
        count(distinct case when shrink_reason is not null then amperity_id end) as shrink_customers,
        count(distinct case when shrink_reason is null then amperity_id end) as sendable_customers
    from audience_{{ i }}
    group by sub_audience_id, treatment_id
),

steps_{{ i }} as (
    {%- for segment in d.include %}
    {{ results_funnel_row(cid, 1, loop.index, "'included_segment'", lit(segment), lit(klaviyo_segment_name(segment)),
        '(select count(distinct amperity_id) from ' ~ results_model_relation(segment, label) ~ ')', segment_id=lit(segment)) }}
    union all
    {%- endfor %}
    {{ results_funnel_row(cid, 2, 1, "'included'", "'all'", lit('Included'), '(select count(*) from included_' ~ i ~ ')') }}
    {%- for segment in d.exclude %}
    union all
    {{ results_funnel_row(cid, 3, loop.index, "'excluded_segment'", lit(segment), lit(klaviyo_segment_name(segment)),
        '(select count(*) from included_' ~ i ~ ' where exists (select 1 from ' ~ results_model_relation(segment, label)
        ~ ' as excluding where excluding.amperity_id = included_' ~ i ~ '.amperity_id))', segment_id=lit(segment)) }}
    {%- endfor %}
    union all
    {{ results_funnel_row(cid, 4, 1, "'excluded'", "'all'", lit('Excluded'),
        '(select count(*) from included_' ~ i ~ ') - (select count(*) from eligible_' ~ i ~ ')') }}
    union all
    {{ results_funnel_row(cid, 5, 1, "'eligible'", "'all'", lit('Eligible'), '(select count(*) from eligible_' ~ i ~ ')') }}
    union all
    {{ results_funnel_row(cid, 6, 1, "'unassigned'", "'all'", lit('In no sub-audience'),
        '(select count(*) from eligible_' ~ i ~ ') - (select count(distinct amperity_id) from audience_' ~ i ~ ')') }}
    {%- set order = namespace(value=0) %}
    {%- for sub_audience in d.sub_audiences %}
    {%- set sub_id = lit(sub_audience.sub_audience_id) %}
    {%- set sub_name = lit(sub_audience.sub_audience_name) %}
    {%- set sub_count = '(select coalesce(max(customers), 0) from sub_audience_counts_' ~ i ~ ' where sub_audience_id = ' ~ sub_id ~ ')' %}
    union all
    {{ results_funnel_row(cid, 7, loop.index, "'sub_audience'", sub_id, sub_name, sub_count,
        sub_audience_id=sub_id, sub_audience_name=sub_name) }}
    {%- for treatment in sub_audience.treatments %}
    {%- set order.value = order.value + 1 %}
    {%- set treatment_id = lit(treatment.treatment_id) %}
    {%- set item = lit(sub_audience.sub_audience_id ~ '/' ~ treatment.treatment_id) %}
    {%- set where = ' from treatment_counts_' ~ i ~ ' where sub_audience_id = ' ~ sub_id ~ ' and treatment_id = ' ~ treatment_id ~ ')' %}
    {%- set group = {'sub_audience_id': sub_id, 'sub_audience_name': sub_name, 'treatment_id': treatment_id,
        'treatment_name': lit(treatment.treatment_name), 'is_control': 'true' if treatment.is_control else 'false'} %}
    union all
    {{ results_funnel_row(cid, 8, order.value, "'treatment'", item, lit(treatment.treatment_name), '(select coalesce(max(customers), 0)' ~ where,
        declared_percent=(treatment.basis_points / 100) | string,
        share_percent='100.0 * (select coalesce(max(customers), 0)' ~ where ~ ' / nullif(' ~ sub_count ~ ', 0)', **group) }}
    union all
    {{ results_funnel_row(cid, 9, order.value, "'shrink'", item, lit(treatment.treatment_name), '(select coalesce(max(shrink_customers), 0)' ~ where, **group) }}
    union all
    {{ results_funnel_row(cid, 10, order.value, "'sendable'", item, lit(treatment.treatment_name), '(select coalesce(max(sendable_customers), 0)' ~ where, **group) }}
    union all
    {{ results_funnel_row(cid, 11, order.value, "'recipients'", item, lit(treatment.treatment_name),
        '(select coalesce(max(customers), 0) from latest_recipients where campaign_id = ' ~ lit(d.campaign_id)
        ~ ' and sub_audience_id = ' ~ sub_id ~ ' and treatment_id = ' ~ treatment_id ~ ')', **group) }}
    {%- endfor %}
    {%- endfor %}
),

shrink_reasons_{{ i }} as (
    select
        cast({{ lit(d.campaign_id) }} as {{ string }}) as campaign_id,
        12 as step_order,
        0 as item_order,
        cast('shrink_reason' as {{ string }}) as step,
        cast(shrink_reason as {{ string }}) as item_id,
        cast(shrink_reason as {{ string }}) as label,
        cast(null as {{ string }}) as segment_id,
        cast(null as {{ string }}) as sub_audience_id,
        cast(null as {{ string }}) as sub_audience_name,
        cast(null as {{ string }}) as treatment_id,
        cast(null as {{ string }}) as treatment_name,
        cast(null as {{ dbt.type_boolean() }}) as is_control,
        cast(count(distinct amperity_id) as {{ count_type }}) as customers,
        cast(null as {{ decimal }}) as declared_percent,
        cast(null as {{ decimal }}) as share_percent
    from audience_{{ i }}
    where shrink_reason is not null
    group by shrink_reason
),

{% endfor -%}
final as (
    {%- for d in declarations %}
    select * from steps_{{ loop.index }}
    union all
    select * from shrink_reasons_{{ loop.index }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    {{ results_funnel_row("''", 0, 0, "''", "''", "''", 0) }}
    from latest_recipients
    where 1 = 0
    {%- endfor %}
)

select * from final
