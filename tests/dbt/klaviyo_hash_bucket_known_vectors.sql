-- The treatment bucket is the same number for the same key on every engine (DuckDB, PostgreSQL,
-- Spark), so a customer keeps their treatment when a brand moves warehouse. Known vectors: the
-- bucket is the first 8 hex digits of md5(the key's UTF-8 bytes) read as an unsigned integer,
-- modulo the bucket count; e.g. md5('a') = 0cc175b9... and 0x0cc175b9 = 214005177, so 5177 of
-- 10000 and 77 of 100. Prefixes from 8 upward (fb2490cc, b3cbc921) catch a signed 32-bit read.
-- Returns the vectors an engine gets wrong.
with vectors as (

    select 'a' as hash_key, '0cc175b9' as md5_prefix, 5177 as bucket_10000, 77 as bucket_100
    union all
    select 'spring_sale:all:5f0c1a2e-7b3d-4c8e-9a10-2b3c4d5e6f70', '325f0cd9', 9, 9
    union all
    select 'spring_sale:all:AMP-0000004', 'fb2490cc', 7580, 80
    union all
    select 'spring_sale:all:AMP-0000002', '0e83ca00', 7952, 52
    union all
    select 'winback_weekly:lapsed_vips:AMP-0004242', '0c8204b8', 7480, 80
    union all
    select 'outdoor_launch:hikers:c17', '4ee7c5c0', 2288, 88
    union all
    select 'Zoë:李:José', 'b3cbc921', 6961, 61

),

computed as (

    select
        hash_key,
        md5_prefix,
        bucket_10000,
        bucket_100,
        substr({{ dbt.hash('hash_key') }}, 1, 8) as actual_md5_prefix,
        {{ klaviyo_hash_bucket('hash_key') }} as actual_bucket_10000,
        {{ klaviyo_hash_bucket('hash_key', 100) }} as actual_bucket_100
    from vectors

),

final as (

    select *
    from computed
    where
        actual_md5_prefix is null
        or actual_md5_prefix <> md5_prefix
        or actual_bucket_10000 is null
        or actual_bucket_10000 <> bucket_10000
        or actual_bucket_100 is null
        or actual_bucket_100 <> bucket_100

)

select * from final
