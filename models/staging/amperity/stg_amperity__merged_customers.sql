-- One row per customer: the merged profile. Rename and cast only (docs/architecture.md §1).
with

source as (

    select * from {{ source('amperity', 'merged_customers') }}

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
        cast(update_dt as {{ dbt.type_timestamp() }}) as update_dt

    from source

)

select * from renamed
