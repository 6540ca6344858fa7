{#-
    The countries whose national phone numbers klaviyo_normalize_phone turns into E.164.

    One entry per country:
      - iso2, iso3, names: how the customer's country may be written (matched case-insensitively
        after trim; English names only);
      - calling_code: the country calling code (NANP countries share 1);
      - trunk_prefix: the national prefix dialled before the area code ('' when the country has
        none); it is dropped when the number starts with it;
      - nsn_min, nsn_max: allowed length of the national significant number (the digits after
        the trunk prefix);
      - nsn_first: the lowest allowed first digit of the national significant number ('2' for
        NANP: area codes never start with 0 or 1). It is always above the trunk prefix's digit,
        so "starts with the trunk prefix" is never ambiguous.

    The lengths are the ones in use for subscriber numbers (ITU-T E.164 national plans): where a
    plan allows very short local numbers (DE, AT) the minimum is set so that a number written
    without its area code is not mistaken for a complete one.

    A dispatched macro: a project can override it (dispatch config for `klaviyo_audiences`) to
    add or change countries.
-#}
{% macro klaviyo_phone_countries() -%}
    {{ return(adapter.dispatch('klaviyo_phone_countries', 'klaviyo_audiences')()) }}
{%- endmacro %}

{% macro default__klaviyo_phone_countries() -%}
    {{ return([
        {'iso2': 'US', 'iso3': 'USA', 'names': ['United States', 'United States of America', 'U.S.', 'U.S.A.'],
         'calling_code': '1', 'trunk_prefix': '1', 'nsn_min': 10, 'nsn_max': 10, 'nsn_first': '2'},
        {'iso2': 'CA', 'iso3': 'CAN', 'names': ['Canada'],
         'calling_code': '1', 'trunk_prefix': '1', 'nsn_min': 10, 'nsn_max': 10, 'nsn_first': '2'},
        {'iso2': 'GB', 'iso3': 'GBR', 'names': ['United Kingdom', 'UK', 'Great Britain', 'Britain', 'England', 'Scotland', 'Wales', 'Northern Ireland'],
         'calling_code': '44', 'trunk_prefix': '0', 'nsn_min': 9, 'nsn_max': 10, 'nsn_first': '1'},
        {'iso2': 'DE', 'iso3': 'DEU', 'names': ['Germany'],
         'calling_code': '49', 'trunk_prefix': '0', 'nsn_min': 8, 'nsn_max': 11, 'nsn_first': '1'},
        {'iso2': 'FR', 'iso3': 'FRA', 'names': ['France'],
         'calling_code': '33', 'trunk_prefix': '0', 'nsn_min': 9, 'nsn_max': 9, 'nsn_first': '1'},
        {'iso2': 'IE', 'iso3': 'IRL', 'names': ['Ireland', 'Republic of Ireland'],
         'calling_code': '353', 'trunk_prefix': '0', 'nsn_min': 7, 'nsn_max': 9, 'nsn_first': '1'},
        {'iso2': 'ES', 'iso3': 'ESP', 'names': ['Spain'],
         'calling_code': '34', 'trunk_prefix': '', 'nsn_min': 9, 'nsn_max': 9, 'nsn_first': '6'},
        {'iso2': 'IT', 'iso3': 'ITA', 'names': ['Italy'],
         'calling_code': '39', 'trunk_prefix': '', 'nsn_min': 6, 'nsn_max': 11, 'nsn_first': '0'},
        {'iso2': 'NL', 'iso3': 'NLD', 'names': ['Netherlands', 'The Netherlands', 'Holland'],
         'calling_code': '31', 'trunk_prefix': '0', 'nsn_min': 9, 'nsn_max': 9, 'nsn_first': '1'},
        {'iso2': 'BE', 'iso3': 'BEL', 'names': ['Belgium'],
         'calling_code': '32', 'trunk_prefix': '0', 'nsn_min': 8, 'nsn_max': 9, 'nsn_first': '1'},
        {'iso2': 'AU', 'iso3': 'AUS', 'names': ['Australia'],
         'calling_code': '61', 'trunk_prefix': '0', 'nsn_min': 9, 'nsn_max': 9, 'nsn_first': '1'},
        {'iso2': 'NZ', 'iso3': 'NZL', 'names': ['New Zealand'],
         'calling_code': '64', 'trunk_prefix': '0', 'nsn_min': 8, 'nsn_max': 10, 'nsn_first': '1'},
        {'iso2': 'MX', 'iso3': 'MEX', 'names': ['Mexico'],
         'calling_code': '52', 'trunk_prefix': '', 'nsn_min': 10, 'nsn_max': 10, 'nsn_first': '2'},
        {'iso2': 'BR', 'iso3': 'BRA', 'names': ['Brazil'],
         'calling_code': '55', 'trunk_prefix': '0', 'nsn_min': 10, 'nsn_max': 11, 'nsn_first': '1'},
        {'iso2': 'JP', 'iso3': 'JPN', 'names': ['Japan'],
         'calling_code': '81', 'trunk_prefix': '0', 'nsn_min': 9, 'nsn_max': 10, 'nsn_first': '1'},
        {'iso2': 'IN', 'iso3': 'IND', 'names': ['India'],
         'calling_code': '91', 'trunk_prefix': '0', 'nsn_min': 10, 'nsn_max': 10, 'nsn_first': '1'},
        {'iso2': 'CN', 'iso3': 'CHN', 'names': ['China'],
         'calling_code': '86', 'trunk_prefix': '0', 'nsn_min': 10, 'nsn_max': 11, 'nsn_first': '1'},
        {'iso2': 'SE', 'iso3': 'SWE', 'names': ['Sweden'],
         'calling_code': '46', 'trunk_prefix': '0', 'nsn_min': 7, 'nsn_max': 9, 'nsn_first': '1'},
        {'iso2': 'NO', 'iso3': 'NOR', 'names': ['Norway'],
         'calling_code': '47', 'trunk_prefix': '', 'nsn_min': 8, 'nsn_max': 8, 'nsn_first': '2'},
        {'iso2': 'DK', 'iso3': 'DNK', 'names': ['Denmark'],
         'calling_code': '45', 'trunk_prefix': '', 'nsn_min': 8, 'nsn_max': 8, 'nsn_first': '2'},
        {'iso2': 'CH', 'iso3': 'CHE', 'names': ['Switzerland'],
         'calling_code': '41', 'trunk_prefix': '0', 'nsn_min': 9, 'nsn_max': 9, 'nsn_first': '1'},
        {'iso2': 'AT', 'iso3': 'AUT', 'names': ['Austria'],
         'calling_code': '43', 'trunk_prefix': '0', 'nsn_min': 8, 'nsn_max': 13, 'nsn_first': '1'},
        {'iso2': 'PL', 'iso3': 'POL', 'names': ['Poland'],
         'calling_code': '48', 'trunk_prefix': '', 'nsn_min': 9, 'nsn_max': 9, 'nsn_first': '1'},
        {'iso2': 'PT', 'iso3': 'PRT', 'names': ['Portugal'],
         'calling_code': '351', 'trunk_prefix': '', 'nsn_min': 9, 'nsn_max': 9, 'nsn_first': '2'},
    ]) }}
{%- endmacro %}
