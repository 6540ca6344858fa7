{#-
    The complementary error function erfc(x) as a portable SQL expression: the Chebyshev fit of
    Numerical Recipes (erfcc, 2nd ed. §6.2), relative error below 3e-7 over the whole line
    (measured against a reference implementation; tests/dbt/results_statistics_known_values.sql).
    |x| is clamped at 26 (erfc(26) < 1e-295) so exp() never underflows: PostgreSQL raises an
    error on float underflow. Only exp, abs, least and arithmetic: the same on every engine.
-#}
{% macro results_erfc(x) -%}
    {{ return(adapter.dispatch('results_erfc', 'klaviyo_audiences')(x)) }}
{%- endmacro %}

{% macro default__results_erfc(x) -%}
    {%- set x = 'cast(' ~ x ~ ' as ' ~ results_type_double() ~ ')' -%}
    {%- set z = 'least(abs(' ~ x ~ '), 26.0)' -%}
    {%- set t = '(1.0 / (1.0 + 0.5 * ' ~ z ~ '))' -%}
    (case when ({{ x }}) >= 0 then 0.0 else 2.0 end
        + case when ({{ x }}) >= 0 then 1.0 else -1.0 end
        * {{ t }} * exp(-{{ z }} * {{ z }} - 1.26551223 + {{ t }} * (1.00002368 + {{ t }} * (0.37409196
        + {{ t }} * (0.09678418 + {{ t }} * (-0.18628806 + {{ t }} * (0.27886807 + {{ t }} * (-1.13520398
        + {{ t }} * (1.48851587 + {{ t }} * (-0.82215223 + {{ t }} * 0.17087277))))))))))
{%- endmacro %}
