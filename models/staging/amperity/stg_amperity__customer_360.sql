-- One row per customer: profile plus behaviour. Rename and cast only (docs/architecture.md §1).
-- Columns marked required must exist in the source table; a missing optional one is a typed
-- null, named in the build log (docs/data.md, "Pointing the project at your own tables").
-- Postgres spells the 8-byte float `double precision`; DuckDB and Spark `double`.
{%- set string = dbt.type_string() %}
{%- set timestamp = dbt.type_timestamp() %}
{%- set int = dbt.type_int() %}
{%- set double = 'double precision' if target.type == 'postgres' else 'double' %}
{%- set columns = [
    {'name': 'amperity_id', 'type': string, 'required': true},
    {'name': 'given_name', 'type': string},
    {'name': 'surname', 'type': string},
    {'name': 'full_name', 'type': string},
    {'name': 'email', 'type': string},
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
    {'name': 'update_dt', 'type': timestamp},
    {'name': 'lifetime_revenue', 'type': 'decimal(18, 2)', 'required': true},
    {'name': 'lifetime_order_count', 'type': int},
    {'name': 'first_order_datetime', 'type': timestamp},
    {'name': 'latest_order_datetime', 'type': timestamp},
    {'name': 'predicted_clv', 'type': 'decimal(18, 2)'},
    {'name': 'churn_propensity', 'type': double},
    {'name': 'preferred_channel', 'type': string},
    {'name': 'preferred_store_id', 'type': string}
] %}

with

source as (

    select * from {{ source('amperity', 'customer_360') }}

),

renamed as (

    select
        {{- klaviyo_stage_columns(source('amperity', 'customer_360'), columns, 'amperity.customer_360') }}

    from source

)

select * from renamed
