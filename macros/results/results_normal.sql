{#-
    The standard normal distribution as portable SQL expressions (docs/results.md, "Statistics"):

    - results_normal_cdf(z): P(Z <= z) = erfc(-z / sqrt 2) / 2, relative error below 3e-7;
    - results_normal_two_sided_p(z): P(|Z| >= |z|) = erfc(|z| / sqrt 2), the two-sided p-value
      of a z statistic, relative error below 3e-7 (so tiny p-values stay meaningful);
    - results_normal_quantile_value(p): the quantile of a constant p, as a number (below).
-#}
{% macro results_normal_cdf(z) -%}
    {{ return(adapter.dispatch('results_normal_cdf', 'klaviyo_audiences')(z)) }}
{%- endmacro %}

{% macro default__results_normal_cdf(z) -%}
    (0.5 * {{ results_erfc('-(' ~ z ~ ') * 0.7071067811865476') }})
{%- endmacro %}

{% macro results_normal_two_sided_p(z) -%}
    {{ return(adapter.dispatch('results_normal_two_sided_p', 'klaviyo_audiences')(z)) }}
{%- endmacro %}

{% macro default__results_normal_two_sided_p(z) -%}
    {{ results_erfc('abs(' ~ z ~ ') * 0.7071067811865476') }}
{%- endmacro %}

{#-
    The normal quantile of a constant probability `p` (3e-7 < p < 1 - 3e-7), computed while
    compiling and returned as a number, e.g. the z of a confidence level: bisection then Newton
    steps on the normal CDF's Taylor series,
    P(Z <= x) = 1/2 + phi(x) * sum_k x^(2k+1) / (1 * 3 * ... * (2k+1)).
    Relative error below 1e-13 for p up to 0.9995 (confidence 0.999), 1e-10 beyond.
    A literal, not an expression: a model repeating it stays small on every engine's planner.
-#}
{% macro results_normal_cdf_value(x) -%}
    {%- set sums = namespace(term=x, total=x) -%}
    {%- for k in range(1, 40 + (3 * x * x) | int) -%}
        {%- set sums.term = sums.term * x * x / (2 * k + 1) -%}
        {%- set sums.total = sums.total + sums.term -%}
    {%- endfor -%}
    {{ return(0.5 + (2.718281828459045 ** (-x * x / 2)) * 0.3989422804014327 * sums.total) }}
{%- endmacro %}

{% macro results_normal_quantile_value(p) -%}
    {%- if p is not number or p <= 0.0000003 or p >= 0.9999997 -%}
        {%- do exceptions.raise_compiler_error("results_normal_quantile_value: expected a probability between 3e-7 and 1 - 3e-7, got " ~ p) -%}
    {%- endif -%}
    {%- set x = namespace(low=-5.5, high=5.5, value=0.0) -%}
    {%- for step in range(24) -%}
        {%- set x.value = (x.low + x.high) / 2 -%}
        {%- if results_normal_cdf_value(x.value) < p -%}
            {%- set x.low = x.value -%}
        {%- else -%}
            {%- set x.high = x.value -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for step in range(4) -%}
        {%- set density = (2.718281828459045 ** (-x.value * x.value / 2)) * 0.3989422804014327 -%}
        {%- set x.value = x.value - (results_normal_cdf_value(x.value) - p) / density -%}
    {%- endfor -%}
    {{ return(x.value) }}
{%- endmacro %}
