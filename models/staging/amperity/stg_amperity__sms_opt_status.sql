-- One row per E.164 phone number: marketing SMS consent. Rename and cast only (docs/architecture.md §1).
-- Columns marked required must exist in the source table; a missing optional one is a typed
-- null, named in the build log (docs/data.md, "Pointing the project at your own tables").
{%- set string = dbt.type_string() %}
{%- set timestamp = dbt.type_timestamp() %}
{%- set boolean = dbt.type_boolean() %}
{%- set columns = [
    {'name': 'phone', 'type': string, 'required': true},
    {'name': 'amperity_id', 'type': string},
    {'name': 'is_sms_opted_in', 'type': boolean, 'required': true},
    {'name': 'updated_at', 'type': timestamp}
] %}

with

source as (

    select * from {{ source('amperity', 'sms_opt_status') }}

),

renamed as (

    select
        {{- klaviyo_stage_columns(source('amperity', 'sms_opt_status'), columns, 'amperity.sms_opt_status') }}

    from source

)

select * from renamed
