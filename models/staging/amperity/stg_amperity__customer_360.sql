-- One row per customer: profile plus behaviour. Rename and cast only (docs/architecture.md §1).
-- Postgres spells the 8-byte float `double precision`; DuckDB and Spark `double`.
{%- set double_type = 'double precision' if target.type == 'postgres' else 'double' %}

with

source as (

    select * from {{ source('amperity', 'customer_360') }}

),

renamed as (

    select
        cast(amperity_id as {{ dbt.type_string() }}) as amperity_id,
        cast(given_name as {{ dbt.type_string() }}) as given_name,
        cast(surname as {{ dbt.type_string() }}) as surname,
        cast(full_name as {{ dbt.type_string() }}) as full_name,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(address as {{ dbt.type_string() }}) as address,
        cast(address2 as {{ dbt.type_string() }}) as address2,
        cast(city as {{ dbt.type_string() }}) as city,
        cast(state as {{ dbt.type_string() }}) as state,
        cast(postal as {{ dbt.type_string() }}) as postal,
        cast(country as {{ dbt.type_string() }}) as country,
        cast(birthdate as date) as birthdate,
        cast(gender as {{ dbt.type_string() }}) as gender,
        cast(company as {{ dbt.type_string() }}) as company,
        cast(title as {{ dbt.type_string() }}) as title,
        cast(loyalty_id as {{ dbt.type_string() }}) as loyalty_id,
        cast(create_dt as {{ dbt.type_timestamp() }}) as create_dt,
        cast(update_dt as {{ dbt.type_timestamp() }}) as update_dt,
        cast(lifetime_revenue as decimal(18, 2)) as lifetime_revenue,
        cast(lifetime_order_count as {{ dbt.type_int() }}) as lifetime_order_count,
        cast(first_order_datetime as {{ dbt.type_timestamp() }}) as first_order_datetime,
        cast(latest_order_datetime as {{ dbt.type_timestamp() }}) as latest_order_datetime,
        cast(predicted_clv as decimal(18, 2)) as predicted_clv,
        cast(churn_propensity as {{ double_type }}) as churn_propensity,
        cast(preferred_channel as {{ dbt.type_string() }}) as preferred_channel,
        cast(preferred_store_id as {{ dbt.type_string() }}) as preferred_store_id

    from source

)

select * from renamed
