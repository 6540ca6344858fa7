-- One row per E.164 phone number: marketing SMS consent. Rename and cast only (docs/architecture.md §1).
with

source as (

    select * from {{ source('amperity', 'sms_opt_status') }}

),

renamed as (

    select
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(amperity_id as {{ dbt.type_string() }}) as amperity_id,
        cast(is_sms_opted_in as {{ dbt.type_boolean() }}) as is_sms_opted_in,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
