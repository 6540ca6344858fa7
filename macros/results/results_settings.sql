{#-
    The results models' settings, read from vars and checked up front (docs/results.md):

    - results_window_days (default 14): the measurement window, in days from the start;
    - results_window_days_by_campaign ({campaign_id: days}): per-campaign overrides;
    - results_confidence (default 0.95): the confidence level of every interval;
    - results_as_of (default null = the latest order in the transactions): the instant the data
      is complete up to; windows ending after it are partial.

    Checked when dbt executes (like campaign declarations); while parsing, the defaults stand in.
    Settings, not SQL: plain macros (nothing here differs between engines).
-#}
{% macro results_window_days_default() -%}
    {%- if not execute -%}{{ return(14) }}{%- endif -%}
    {{ return(results_checked_days('results_window_days', var('results_window_days', 14))) }}
{%- endmacro %}

{% macro results_window_days_overrides() -%}
    {%- if not execute -%}{{ return({}) }}{%- endif -%}
    {%- set overrides = var('results_window_days_by_campaign', {}) or {} -%}
    {%- if overrides is not mapping -%}
        {%- do exceptions.raise_compiler_error(
            "var results_window_days_by_campaign is invalid: expected a map of campaign id to days "
            ~ "(e.g. {spring_sale: 28}), got " ~ overrides) -%}
    {%- endif -%}
    {%- set checked = {} -%}
    {%- for campaign_id, days in overrides.items() -%}
        {%- do checked.update({campaign_id | string: results_checked_days(
            "results_window_days_by_campaign: campaign '" ~ campaign_id ~ "'", days)}) -%}
    {%- endfor -%}
    {{ return(checked) }}
{%- endmacro %}

{% macro results_checked_days(label, days) -%}
    {%- if days is boolean or days is not number or days != (days | int) or days < 1 or days > 3660 -%}
        {%- do exceptions.raise_compiler_error(
            label ~ " is invalid: expected a whole number of days from 1 to 3660, got " ~ days) -%}
    {%- endif -%}
    {{ return(days | int) }}
{%- endmacro %}

{#- The window length of the campaign in `campaign_id_column`, as a SQL integer expression. -#}
{% macro results_window_days(campaign_id_column) -%}
    {{ return(adapter.dispatch('results_window_days', 'klaviyo_audiences')(campaign_id_column)) }}
{%- endmacro %}

{% macro default__results_window_days(campaign_id_column) -%}
    {%- set overrides = results_window_days_overrides() -%}
    {%- if overrides -%}
        case {{ campaign_id_column }}
        {%- for campaign_id, days in overrides.items() | sort %}
            when {{ klaviyo_string_literal(campaign_id) }} then {{ days }}
        {%- endfor %}
            else {{ results_window_days_default() }}
        end
    {%- else -%}
        {{ results_window_days_default() }}
    {%- endif -%}
{%- endmacro %}

{#- The longest window any campaign uses (sizes the day series). -#}
{% macro results_max_window_days() -%}
    {{ return(([results_window_days_default()] + (results_window_days_overrides().values() | list)) | max) }}
{%- endmacro %}

{#- The confidence level of every interval: above 0.5, at most 0.99999. -#}
{% macro results_confidence() -%}
    {%- if not execute -%}{{ return(0.95) }}{%- endif -%}
    {%- set level = var('results_confidence', 0.95) -%}
    {%- if level is boolean or level is not number or level <= 0.5 or level > 0.99999 -%}
        {%- do exceptions.raise_compiler_error(
            "var results_confidence is invalid: expected a confidence level above 0.5 and at most "
            ~ "0.99999 (e.g. 0.95), got " ~ level) -%}
    {%- endif -%}
    {{ return(level) }}
{%- endmacro %}

{#- The instant the data is complete up to, from var results_as_of, as a SQL expression (or none). -#}
{% macro results_as_of_literal() -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set as_of = var('results_as_of', none) -%}
    {%- if as_of is none or as_of == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parsed = klaviyo_parse_datetime(as_of | string) -%}
    {%- if parsed is none -%}
        {%- do exceptions.raise_compiler_error(
            "var results_as_of is invalid: expected a UTC datetime 'YYYY-MM-DD HH:MM[:SS]', got " ~ as_of) -%}
    {%- endif -%}
    {{ return("cast(" ~ klaviyo_string_literal(parsed) ~ " as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}
