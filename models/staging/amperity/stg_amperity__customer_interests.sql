-- One row per (customer, interest). Rename and cast only (docs/architecture.md §1).
with

source as (

    select * from {{ source('amperity', 'customer_interests') }}

),

renamed as (

    select
        cast(amperity_id as {{ dbt.type_string() }}) as amperity_id,
        cast(interest as {{ dbt.type_string() }}) as interest,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
