{#-
    The fixed columns every campaign's audience relation starts with, in order (the contract in
    docs/architecture.md, section 2). Attribute names may not take them. The loader's copy is
    loader/warehouse.py AUDIENCE_FIXED_COLUMNS; tests/contracts/ fails when the two differ.
-#}
{% macro klaviyo_audience_fixed_columns() %}
    {{ return(['campaign_id', 'campaign_name', 'sub_audience_id', 'sub_audience_name', 'treatment_id', 'treatment_name', 'is_control', 'list_name', 'segment_id', 'segment_name', 'amperity_id', 'shrink_reason']) }}
{% endmacro %}
