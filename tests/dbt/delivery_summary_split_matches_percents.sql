{#-
    In every sub-audience of at least 1,000 customers, each treatment's share of customers is
    within 5 percentage points of its declared percent (over 3 standard deviations at that
    size, so a failure means a broken split, not bad luck). Returns the treatments that are off.
-#}
{%- set declared = [] -%}
{%- if execute -%}
    {%- for d in klaviyo_listed_campaigns() -%}
        {%- for sub_audience in d.sub_audiences -%}
            {%- for treatment in sub_audience.treatments -%}
                {%- do declared.append("select '" ~ d.campaign_id ~ "' as campaign_id, '"
                    ~ sub_audience.sub_audience_id ~ "' as sub_audience_id, '"
                    ~ treatment.treatment_id ~ "' as treatment_id, "
                    ~ treatment.percent ~ " as declared_percent") -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}

with

summary as (
    select * from {{ ref('klaviyo_delivery_summary') }}
),

declared_treatments as (
    {%- if declared | length > 0 %}
    {{ declared | join('\n    union all\n    ') }}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        cast(null as {{ dbt.type_string() }}) as sub_audience_id,
        cast(null as {{ dbt.type_string() }}) as treatment_id,
        cast(null as {{ dbt.type_float() }}) as declared_percent
    where 1 = 0
    {%- endif %}
),

sub_audience_sizes as (
    select
        campaign_id,
        sub_audience_id,
        sum(customers) as sub_audience_customers
    from summary
    group by campaign_id, sub_audience_id
),

shares as (
    select
        summary.campaign_id,
        summary.sub_audience_id,
        summary.treatment_id,
        declared_treatments.declared_percent,
        100.0 * summary.customers / sub_audience_sizes.sub_audience_customers as actual_percent
    from summary
    inner join sub_audience_sizes
        on
            summary.campaign_id = sub_audience_sizes.campaign_id
            and summary.sub_audience_id = sub_audience_sizes.sub_audience_id
    inner join declared_treatments
        on
            summary.campaign_id = declared_treatments.campaign_id
            and summary.sub_audience_id = declared_treatments.sub_audience_id
            and summary.treatment_id = declared_treatments.treatment_id
    where sub_audience_sizes.sub_audience_customers >= 1000
)

select *
from shares
where abs(actual_percent - declared_percent) > 5
