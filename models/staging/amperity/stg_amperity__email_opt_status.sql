-- One row per email address: marketing email consent. Rename and cast only (docs/architecture.md §1).
with

source as (

    select * from {{ source('amperity', 'email_opt_status') }}

),

renamed as (

    select
        cast(email as {{ dbt.type_string() }}) as email,
        cast(amperity_id as {{ dbt.type_string() }}) as amperity_id,
        cast(is_email_opted_in as {{ dbt.type_boolean() }}) as is_email_opted_in,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
