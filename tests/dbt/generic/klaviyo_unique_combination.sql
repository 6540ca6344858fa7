{#- Generic data test: no two rows share the values of `columns` (a composite key). -#}
{% test klaviyo_unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as rows_with_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
