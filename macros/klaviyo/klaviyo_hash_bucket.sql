{#-
    A sticky bucket in 0..buckets-1 for a string key: the first 8 hex digits of md5(key) read
    as an integer, modulo `buckets`. The same key gives the same bucket on every engine.
-#}
{% macro klaviyo_hash_bucket(key_expression, buckets=10000) -%}
    {{ return(adapter.dispatch('klaviyo_hash_bucket', 'klaviyo_audiences')(key_expression, buckets)) }}
{%- endmacro %}

{% macro default__klaviyo_hash_bucket(key_expression, buckets=10000) -%}
    cast('0x' || substr({{ dbt.hash(key_expression) }}, 1, 8) as bigint) % {{ buckets }}
{%- endmacro %}

{% macro postgres__klaviyo_hash_bucket(key_expression, buckets=10000) -%}
    (('x' || substr({{ dbt.hash(key_expression) }}, 1, 8))::bit(32)::bigint % {{ buckets }})
{%- endmacro %}

{% macro spark__klaviyo_hash_bucket(key_expression, buckets=10000) -%}
    (cast(conv(substr({{ dbt.hash(key_expression) }}, 1, 8), 16, 10) as bigint) % {{ buckets }})
{%- endmacro %}
