-- Outdoor enthusiasts: customers with at least one outdoor interest (var
-- 'segment_outdoor_interests') in the multi-valued interests table.
{%- set outdoor_interests = var('segment_outdoor_interests', ['hiking', 'camping', 'fishing']) %}
{%- set interest_list = "'" ~ (outdoor_interests | map('replace', "'", "''") | join("', '")) ~ "'" %}

with

interests as (

    select * from {{ ref('stg_amperity__customer_interests') }}

),

final as (

    select distinct amperity_id
    from interests
    where interest in ({{ interest_list }})

)

select * from final
