-- One row per order. Rename and cast only (docs/architecture.md §1).
-- Columns marked required must exist in the source table; a missing optional one is a typed
-- null, named in the build log (docs/data.md, "Pointing the project at your own tables").
{%- set string = dbt.type_string() %}
{%- set timestamp = dbt.type_timestamp() %}
{%- set int = dbt.type_int() %}
{%- set columns = [
    {'name': 'order_id', 'type': string, 'required': true},
    {'name': 'amperity_id', 'type': string, 'required': true},
    {'name': 'order_datetime', 'type': timestamp, 'required': true},
    {'name': 'store_id', 'type': string},
    {'name': 'channel', 'type': string},
    {'name': 'order_revenue', 'type': 'decimal(18, 2)'},
    {'name': 'order_quantity', 'type': int}
] %}

with

source as (

    select * from {{ source('amperity', 'unified_transactions') }}

),

renamed as (

    select
        {{- klaviyo_stage_columns(source('amperity', 'unified_transactions'), columns, 'amperity.unified_transactions') }}

    from source

)

select * from renamed
