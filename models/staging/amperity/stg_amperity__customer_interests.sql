-- One row per (customer, interest). Rename and cast only (docs/architecture.md §1).
-- Columns marked required must exist in the source table; a missing optional one is a typed
-- null, named in the build log (docs/data.md, "Pointing the project at your own tables").
{%- set string = dbt.type_string() %}
{%- set timestamp = dbt.type_timestamp() %}
{%- set columns = [
    {'name': 'amperity_id', 'type': string, 'required': true},
    {'name': 'interest', 'type': string, 'required': true},
    {'name': 'updated_at', 'type': timestamp}
] %}

with

source as (

    select * from {{ source('amperity', 'customer_interests') }}

),

renamed as (

    select
        {{- klaviyo_stage_columns(source('amperity', 'customer_interests'), columns, 'amperity.customer_interests') }}

    from source

)

select * from renamed
