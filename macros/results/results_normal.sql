{#-
    The standard normal distribution as portable SQL expressions (docs/results.md, "Statistics"):

    - results_normal_cdf(z): P(Z <= z) = erfc(-z / sqrt 2) / 2, relative error below 3e-7;
    - results_normal_two_sided_p(z): P(|Z| >= |z|) = erfc(|z| / sqrt 2), the two-sided p-value
      of a z statistic, relative error below 3e-7 (so tiny p-values stay meaningful);
    - results_normal_quantile(p): z with P(Z <= z) = p for 0 < p < 1, by Acklam's rational
      approximation (relative error below 1.2e-9); null outside (0, 1).
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

{% macro results_normal_quantile(p) -%}
    {{ return(adapter.dispatch('results_normal_quantile', 'klaviyo_audiences')(p)) }}
{%- endmacro %}

{% macro default__results_normal_quantile(p) -%}
    {%- set p = 'cast(' ~ p ~ ' as ' ~ results_type_double() ~ ')' -%}
    {%- set tail_q = 'sqrt(-2.0 * ln(case when (' ~ p ~ ') < 0.5 then (' ~ p ~ ') else 1.0 - (' ~ p ~ ') end))' -%}
    {%- set mid_q = '((' ~ p ~ ') - 0.5)' -%}
    {%- set mid_r = '(' ~ mid_q ~ ' * ' ~ mid_q ~ ')' -%}
    (case
        when ({{ p }}) <= 0 or ({{ p }}) >= 1 then null
        when ({{ p }}) < 0.02425 or ({{ p }}) > 0.97575 then
            case when ({{ p }}) < 0.5 then 1.0 else -1.0 end
            * (((((-7.784894002430293e-03 * {{ tail_q }} - 3.223964580411365e-01) * {{ tail_q }}
                - 2.400758277161838e+00) * {{ tail_q }} - 2.549732539343734e+00) * {{ tail_q }}
                + 4.374664141464968e+00) * {{ tail_q }} + 2.938163982698783e+00)
            / ((((7.784695709041462e-03 * {{ tail_q }} + 3.224671290700398e-01) * {{ tail_q }}
                + 2.445134137142996e+00) * {{ tail_q }} + 3.754408661907416e+00) * {{ tail_q }} + 1.0)
        else
            (((((-3.969683028665376e+01 * {{ mid_r }} + 2.209460984245205e+02) * {{ mid_r }}
                - 2.759285104469687e+02) * {{ mid_r }} + 1.383577518672690e+02) * {{ mid_r }}
                - 3.066479806614716e+01) * {{ mid_r }} + 2.506628277459239e+00) * {{ mid_q }}
            / (((((-5.447609879822406e+01 * {{ mid_r }} + 1.615858368580409e+02) * {{ mid_r }}
                - 1.556989798598866e+02) * {{ mid_r }} + 6.680131188771972e+01) * {{ mid_r }}
                - 1.328068155288572e+01) * {{ mid_r }} + 1.0)
    end)
{%- endmacro %}

{#-
    One Halley step polishing an approximate normal quantile `z` of `p` (e.g. from
    results_normal_quantile) with the Taylor series of the normal CDF,
    P(Z <= x) = 1/2 + phi(x) * sum_k x^(2k+1) / (1 * 3 * ... * (2k+1)), summed to 60 terms:
    the result has a relative error below 5e-14 (measured) for |z| <= 3.5, i.e.
    confidence levels up to 0.9995. Pass `z` as a column: the expression repeats it.
-#}
{% macro results_normal_quantile_polish(z, p) -%}
    {{ return(adapter.dispatch('results_normal_quantile_polish', 'klaviyo_audiences')(z, p)) }}
{%- endmacro %}

{% macro default__results_normal_quantile_polish(z, p) -%}
    {%- set x = 'cast(' ~ z ~ ' as ' ~ results_type_double() ~ ')' -%}
    {%- set x2 = '(' ~ x ~ ' * ' ~ x ~ ')' -%}
    {%- set terms = [x] -%}
    {%- set double_factorial = namespace(value=1.0) -%}
    {%- for k in range(1, 61) -%}
        {%- set double_factorial.value = double_factorial.value * (2 * k + 1) -%}
        {%- do terms.append('power(' ~ x ~ ', ' ~ (2 * k + 1) ~ ') / ' ~ double_factorial.value) -%}
    {%- endfor -%}
    {%- set series = '(' ~ terms | join(' + ') ~ ')' -%}
    {%- set density = '(exp(-0.5 * ' ~ x2 ~ ') * 0.3989422804014327)' -%}
    {%- set error = '(0.5 + ' ~ density ~ ' * ' ~ series ~ ' - (' ~ p ~ '))' -%}
    {%- set u = '(' ~ error ~ ' / ' ~ density ~ ')' -%}
    ({{ x }} - {{ u }} / (1.0 + {{ x }} * {{ u }} / 2.0))
{%- endmacro %}
