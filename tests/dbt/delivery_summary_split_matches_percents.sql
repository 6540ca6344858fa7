{#-
    Every treatment's customer count is where its declared percent puts it, within a tolerance
    that scales with the sub-audience's size. Each customer's treatment is an independent draw
    (a hash bucket), so a treatment of share p in a sub-audience of n customers holds
    Binomial(n, p) customers: the test fails when the count is more than 5 standard deviations
    (sqrt(n p (1 - p))) plus half a customer (the count is whole) from n p. By chance that
    happens once in about 1.7 million checks; a broken split (an empty treatment, a shifted
    boundary, a swapped percent) fails it from a few dozen customers on, and a treatment of
    100 % must hold exactly everyone. Returns the treatments that are off.
-#}
{%- set declared = [] -%}
{%- if execute -%}
    {%- for d in klaviyo_listed_campaigns() -%}
        {%- for sub_audience in d.sub_audiences -%}
            {%- for treatment in sub_audience.treatments -%}
                {%- do declared.append("select " ~ klaviyo_string_literal(d.campaign_id) ~ " as campaign_id, "
                    ~ klaviyo_string_literal(sub_audience.sub_audience_id) ~ " as sub_audience_id, "
                    ~ klaviyo_string_literal(treatment.treatment_id) ~ " as treatment_id, "
                    ~ treatment.basis_points ~ " as declared_basis_points") -%}
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
        cast(null as {{ dbt.type_int() }}) as declared_basis_points
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

expected_counts as (
    select
        summary.campaign_id,
        summary.sub_audience_id,
        summary.treatment_id,
        sub_audience_sizes.sub_audience_customers,
        declared_treatments.declared_basis_points / 100.0 as declared_percent,
        summary.customers,
        sub_audience_sizes.sub_audience_customers * declared_treatments.declared_basis_points / 10000.0
            as expected_customers,
        sqrt(
            sub_audience_sizes.sub_audience_customers
            * (declared_treatments.declared_basis_points / 10000.0)
            * (1 - declared_treatments.declared_basis_points / 10000.0)
        ) as standard_deviation
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
),

final as (
    select *
    from expected_counts
    where abs(customers - expected_customers) > 5 * standard_deviation + 0.5
)

select * from final
