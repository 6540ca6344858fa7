{#-
    The statistics macros of the results models (macros/results/) against reference values
    (SciPy 1.17: scipy.special.erfc, scipy.stats.norm, scipy.stats.t), each within the
    accuracy its macro documents. Returns the cases that miss.
-#}
{%- set cases = [
    ('erfc(0)', results_erfc('0.0'), 1.0, 'rel', 3e-7),
    ('erfc(0.5)', results_erfc('0.5'), 0.4795001221869535, 'rel', 3e-7),
    ('erfc(1)', results_erfc('1.0'), 0.15729920705028513, 'rel', 3e-7),
    ('erfc(2)', results_erfc('2.0'), 0.004677734981047265, 'rel', 3e-7),
    ('erfc(3)', results_erfc('3.0'), 2.2090496998585438e-05, 'rel', 3e-7),
    ('erfc(5)', results_erfc('5.0'), 1.5374597944280351e-12, 'rel', 3e-7),
    ('erfc(-1)', results_erfc('-1.0'), 1.842700792949715, 'rel', 3e-7),
    ('erfc(40) does not underflow', results_erfc('40.0'), 0.0, 'abs', 1e-290),
    ('normal_cdf(1.959963984540054)', results_normal_cdf('1.959963984540054'), 0.975, 'rel', 3e-7),
    ('normal_cdf(-1)', results_normal_cdf('-1.0'), 0.15865525393145707, 'rel', 3e-7),
    ('normal_cdf(3)', results_normal_cdf('3.0'), 0.9986501019683699, 'rel', 3e-7),
    ('normal_two_sided_p(-1.959963984540054)', results_normal_two_sided_p('-1.959963984540054'), 0.05, 'rel', 3e-7),
    ('normal_quantile_value(0.975)', results_normal_quantile_value(0.975), 1.959963984540054, 'rel', 1e-13),
    ('normal_quantile_value(0.5)', results_normal_quantile_value(0.5), 0.0, 'abs', 1e-15),
    ('normal_quantile_value(0.995)', results_normal_quantile_value(0.995), 2.5758293035489004, 'rel', 1e-13),
    ('normal_quantile_value(0.9995)', results_normal_quantile_value(0.9995), 3.2905267314919255, 'rel', 1e-13),
    ('normal_quantile_value(0.8)', results_normal_quantile_value(0.8), 0.8416212335729143, 'rel', 1e-14),
    ('normal_quantile_value(0.01)', results_normal_quantile_value(0.01), -2.3263478740408408, 'rel', 1e-14),
    ('normal_quantile_value(0.9999995)', results_normal_quantile_value(0.9999995), 4.89163847571478, 'rel', 1e-10),
    ('t_quantile(0.975, df=3)', results_t_quantile('1.959963984540054', '3'), 3.1824463052837078, 'abs', 6e-4),
    ('t_quantile(0.975, df=5)', results_t_quantile('1.959963984540054', '5'), 2.5705818356363146, 'abs', 6e-6),
    ('t_quantile(0.975, df=10)', results_t_quantile('1.959963984540054', '10'), 2.228138851986274, 'abs', 5e-8),
    ('t_quantile(0.975, df=29.117)', results_t_quantile('1.959963984540054', '29.117'), 2.044872725399581, 'abs', 5e-8),
    ('t_quantile(0.975, df=1000)', results_t_quantile('1.959963984540054', '1000'), 1.9623390808264083, 'abs', 5e-8),
    ('t_quantile(0.995, df=20)', results_t_quantile('2.5758293035489004', '20'), 2.8453397097861077, 'abs', 5e-8),
    ('t_quantile(0.025, df=10)', results_t_quantile('-1.959963984540054', '10'), -2.228138851986274, 'abs', 5e-8),
    ('t_two_sided_p(2.228138851986274, df=10)', results_t_two_sided_p('2.228138851986274', '10'), 0.05, 'abs', 4e-7),
    ('t_two_sided_p(1, df=5)', results_t_two_sided_p('1.0', '5'), 0.3632174676491229, 'abs', 4e-7),
    ('t_two_sided_p(-3, df=30)', results_t_two_sided_p('-3.0', '30'), 0.005389964065651945, 'abs', 4e-7),
    ('t_two_sided_p(2, df=100)', results_t_two_sided_p('2.0', '100'), 0.04821217873113365, 'abs', 4e-7),
    ('t_two_sided_p(0.5, df=3.5)', results_t_two_sided_p('0.5', '3.5'), 0.6468504393225509, 'abs', 3e-5),
    ('t_two_sided_p(0, df=8)', results_t_two_sided_p('0.0', '8'), 1.0, 'abs', 4e-7),
] -%}

with

computed as (
    {%- for name, expression, expected, kind, tolerance in cases %}
    select
        '{{ name }}' as case_name,
        {{ expression }} as actual,
        {{ expected }} as expected,
        '{{ kind }}' as tolerance_kind,
        {{ tolerance }} as tolerance
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select *
    from computed
    where
        actual is null
        or abs(actual - expected) > tolerance * case when tolerance_kind = 'rel' then abs(expected) else 1 end
)

select * from final
