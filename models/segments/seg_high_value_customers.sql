-- High-value customers: lifetime revenue at or above var('segment_high_value_min_revenue').
{%- set min_revenue = var('segment_high_value_min_revenue', 500) %}

with

customers as (

    select * from {{ ref('stg_amperity__customer_360') }}

),

final as (

    select amperity_id
    from customers
    where lifetime_revenue >= {{ min_revenue }}

)

select * from final
