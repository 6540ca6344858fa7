-- One row per customer: the merged profile. Rename and cast only (docs/architecture.md §1).
-- Columns marked required must exist in the source table; a missing optional one is a typed
-- null, named in the build log (docs/data.md, "Pointing the project at your own tables").
{%- set string = dbt.type_string() %}
{%- set timestamp = dbt.type_timestamp() %}
{%- set columns = [
    {'name': 'amperity_id', 'type': string, 'required': true},
    {'name': 'given_name', 'type': string},
    {'name': 'surname', 'type': string},
    {'name': 'full_name', 'type': string},
    {'name': 'email', 'type': string, 'required': true},
    {'name': 'phone', 'type': string},
    {'name': 'address', 'type': string},
    {'name': 'address2', 'type': string},
    {'name': 'city', 'type': string},
    {'name': 'state', 'type': string},
    {'name': 'postal', 'type': string},
    {'name': 'country', 'type': string},
    {'name': 'birthdate', 'type': 'date'},
    {'name': 'gender', 'type': string},
    {'name': 'company', 'type': string},
    {'name': 'title', 'type': string},
    {'name': 'loyalty_id', 'type': string},
    {'name': 'create_dt', 'type': timestamp},
    {'name': 'update_dt', 'type': timestamp}
] %}

with

source as (

    select * from {{ source('amperity', 'merged_customers') }}

),

renamed as (

    select
        {{- klaviyo_stage_columns(source('amperity', 'merged_customers'), columns, 'amperity.merged_customers') }}

    from source

)

select * from renamed
