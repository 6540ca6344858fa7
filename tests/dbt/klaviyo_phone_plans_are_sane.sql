{#-
    The phone numbering plans (seeds klaviyo_phone_plans, klaviyo_phone_country_aliases) can be
    read unambiguously: codes are digits, 1 <= nsn_min <= nsn_max, E.164's 15 digits are never
    exceeded, a national number cannot start with the trunk prefix (nsn_first above its digit),
    and spellings are stored upper-case and trimmed as they are matched. Returns one row per
    problem, naming the seed row.
-#}
{%- set digits = "'^[0-9]+$'" %}

with

plans as (
    select * from {{ ref('klaviyo_phone_plans') }}
),

aliases as (
    select * from {{ ref('klaviyo_phone_country_aliases') }}
),

plan_problems as (
    select
        country_code as seed_row,
        case
            when not {{ klaviyo_regexp_matches('calling_code', digits) }} or length(calling_code) > 3
                then 'calling_code must be 1 to 3 digits'
            when nullif(trunk_prefix, '') is not null and not {{ klaviyo_regexp_matches('trunk_prefix', digits) }}
                then 'trunk_prefix must be digits or empty'
            when length(nsn_first) <> 1 or not {{ klaviyo_regexp_matches('nsn_first', digits) }}
                then 'nsn_first must be one digit'
            when nsn_min < 1 or nsn_min > nsn_max
                then 'expected 1 <= nsn_min <= nsn_max'
            when length(calling_code) + nsn_max > 15
                then 'calling_code + nsn_max exceeds the 15 digits of E.164'
            when nullif(trunk_prefix, '') is not null and nsn_first <= substr(trunk_prefix, 1, 1)
                then 'nsn_first must be above the trunk prefix digit, or a leading trunk prefix is ambiguous'
        end as problem
    from plans
),

alias_problems as (
    select
        country_alias as seed_row,
        case
            when country_alias <> upper(trim(country_alias))
                then 'country_alias must be upper-case and trimmed (it is matched as upper(trim(country)))'
        end as problem
    from aliases
),

final as (
    select
        'klaviyo_phone_plans' as seed_name,
        seed_row,
        problem
    from plan_problems
    where problem is not null
    union all
    select
        'klaviyo_phone_country_aliases' as seed_name,
        seed_row,
        problem
    from alias_problems
    where problem is not null
)

select * from final
