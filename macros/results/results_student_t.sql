{#-
    Student's t distribution with (possibly fractional) `df` degrees of freedom, as portable
    SQL expressions, for Welch's interval and test (docs/results.md, "Statistics"). Both rest
    on Hill's normalising transformation (Algorithm 395, Comm. ACM 13(10), 1970), which maps
    |t| to a standard normal deviate y:
    w = (df - 1/2) ln(1 + t^2/df), b = 48 (df - 1/2)^2,
    y = (1 + ((((-0.4w - 3.3)w - 24)w - 85.5) / (0.8w^2 + 100 + b) + w + 3) / b) sqrt(w).

    - results_t_two_sided_p(t, df): P(|T| >= |t|) = P(|Z| >= y); absolute error below 4e-7
      for df >= 5, 3e-5 for df >= 3, 5e-4 for df >= 2. Null for df <= 0.5.
    - results_t_quantile(z, df): the t quantile of the probability whose normal quantile is
      `z`: y = |z| solved for w by two fixed-point steps, then t = sqrt(df (exp(w / a) - 1)).
      At the 97.5 % point the absolute error is below 5e-8 for df >= 10, 6e-6 for df >= 5,
      6e-4 for df >= 3 and 0.02 at df = 2 (always too small: an interval is at most that much
      too narrow).

    Long expressions: the models evaluate them in stages (results_t_normal_deviate,
    results_t_quantile_step, results_t_quantile_from_w), one column per stage.
-#}
{% macro results_t_normal_deviate(t, df) -%}
    {{ return(adapter.dispatch('results_t_normal_deviate', 'klaviyo_audiences')(t, df)) }}
{%- endmacro %}

{% macro default__results_t_normal_deviate(t, df) -%}
    {%- set t = 'cast(' ~ t ~ ' as ' ~ results_type_double() ~ ')' -%}
    {%- set n = 'cast(' ~ df ~ ' as ' ~ results_type_double() ~ ')' -%}
    {%- set a = '(' ~ n ~ ' - 0.5)' -%}
    {%- set b = '(48.0 * ' ~ a ~ ' * ' ~ a ~ ')' -%}
    {%- set w = '(' ~ a ~ ' * ln(1.0 + ' ~ t ~ ' * ' ~ t ~ ' / ' ~ n ~ '))' -%}
    (case when {{ n }} > 0.5 then
        ((((((-0.4 * {{ w }} - 3.3) * {{ w }} - 24.0) * {{ w }} - 85.5) / (0.8 * {{ w }} * {{ w }} + 100.0 + {{ b }})
            + {{ w }} + 3.0) / {{ b }} + 1.0) * sqrt({{ w }}))
    end)
{%- endmacro %}

{% macro results_t_two_sided_p(t, df) -%}
    {{ return(adapter.dispatch('results_t_two_sided_p', 'klaviyo_audiences')(t, df)) }}
{%- endmacro %}

{% macro default__results_t_two_sided_p(t, df) -%}
    {{ results_normal_two_sided_p(results_t_normal_deviate(t, df)) }}
{%- endmacro %}

{#- One fixed-point step w -> (|z| / g(w))^2 solving Hill's y(w) = |z| (start from w = z^2). -#}
{% macro results_t_quantile_step(w, z, df) -%}
    {{ return(adapter.dispatch('results_t_quantile_step', 'klaviyo_audiences')(w, z, df)) }}
{%- endmacro %}

{% macro default__results_t_quantile_step(w, z, df) -%}
    {%- set w = 'cast(' ~ w ~ ' as ' ~ results_type_double() ~ ')' -%}
    {%- set z = 'cast(' ~ z ~ ' as ' ~ results_type_double() ~ ')' -%}
    {%- set a = '(cast(' ~ df ~ ' as ' ~ results_type_double() ~ ') - 0.5)' -%}
    {%- set b = '(48.0 * ' ~ a ~ ' * ' ~ a ~ ')' -%}
    {%- set g -%}
        ((((((-0.4 * {{ w }} - 3.3) * {{ w }} - 24.0) * {{ w }} - 85.5)
        / (0.8 * {{ w }} * {{ w }} + 100.0 + {{ b }}) + {{ w }} + 3.0) / {{ b }} + 1.0))
    {%- endset -%}
    (({{ z }} / {{ g }}) * ({{ z }} / {{ g }}))
{%- endmacro %}

{#- t from the solved w, with the sign of z. -#}
{% macro results_t_quantile_from_w(w, z, df) -%}
    {{ return(adapter.dispatch('results_t_quantile_from_w', 'klaviyo_audiences')(w, z, df)) }}
{%- endmacro %}

{% macro default__results_t_quantile_from_w(w, z, df) -%}
    {%- set n = 'cast(' ~ df ~ ' as ' ~ results_type_double() ~ ')' -%}
    (case when ({{ z }}) < 0 then -1.0 else 1.0 end
        * sqrt({{ n }} * (exp(cast({{ w }} as {{ results_type_double() }}) / ({{ n }} - 0.5)) - 1.0)))
{%- endmacro %}

{% macro results_t_quantile(z, df) -%}
    {{ return(adapter.dispatch('results_t_quantile', 'klaviyo_audiences')(z, df)) }}
{%- endmacro %}

{% macro default__results_t_quantile(z, df) -%}
    {%- set w1 = results_t_quantile_step('(' ~ z ~ ') * (' ~ z ~ ')', z, df) -%}
    {%- set w2 = results_t_quantile_step(w1, z, df) -%}
    {{ results_t_quantile_from_w(w2, z, df) }}
{%- endmacro %}
