-- Email unsubscribed: customers whose address is opted out of marketing email. Used as an
-- exclusion. Matched on the trimmed, lower-cased address, so every customer sharing an
-- opted-out address is in it, and on the consent row's own amperity_id.

with

customers as (

    select * from {{ ref('stg_amperity__merged_customers') }}

),

email_opt_status as (

    select * from {{ ref('stg_amperity__email_opt_status') }}

),

opted_out as (

    select
        lower(trim(email)) as email_key,
        amperity_id
    from email_opt_status
    where not is_email_opted_in

),

by_address as (

    select customers.amperity_id
    from customers
    inner join opted_out
        on lower(trim(customers.email)) = opted_out.email_key

),

by_customer as (

    select amperity_id
    from opted_out
    where amperity_id is not null

),

final as (

    select amperity_id from by_address
    union
    select amperity_id from by_customer

)

select * from final
