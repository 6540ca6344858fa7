-- One row per order. Rename and cast only (docs/architecture.md §1).
with

source as (

    select * from {{ source('amperity', 'unified_transactions') }}

),

renamed as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(amperity_id as {{ dbt.type_string() }}) as amperity_id,
        cast(order_datetime as {{ dbt.type_timestamp() }}) as order_datetime,
        cast(store_id as {{ dbt.type_string() }}) as store_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(order_revenue as decimal(18, 2)) as order_revenue,
        cast(order_quantity as {{ dbt.type_int() }}) as order_quantity

    from source

)

select * from renamed
