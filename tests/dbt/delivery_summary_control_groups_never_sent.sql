-- Control groups are recorded, never sent: no list and no rows to send; every other
-- treatment has a destination list.
select *
from {{ ref('klaviyo_delivery_summary') }}
where
    (is_control and (list_name is not null or rows_to_send > 0))
    or (not is_control and list_name is null)
