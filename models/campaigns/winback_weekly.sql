{#-
    Weekly win-back: lapsed customers and high-value customers drifting away, minus the
    unsubscribed, every Monday 08:00 UTC. Each customer lands in the first sub-audience it
    matches: at-risk VIPs get a concierge message, app users an in-app offer, everyone else a
    discount (with a 10 % holdout to measure it).
-#}
{{ klaviyo_campaign(
    name='Weekly win-back',
    campaign_id='winback_weekly',
    include=['seg_lapsed_customers', 'seg_high_value_customers'],
    exclude=['seg_email_unsubscribed', 'seg_recent_buyers'],
    first_match_only=true,
    sub_audiences=[
        {
            'name': 'VIP at risk',
            'condition': 'lifetime_revenue >= 500 and churn_propensity >= 0.5',
            'treatments': [
                {'name': 'Concierge', 'percent': 80, 'list_name': 'Win-back - VIP concierge'},
                {'name': 'Holdout', 'percent': 20, 'control': true},
            ],
        },
        {
            'name': 'App users',
            'condition': "preferred_channel = 'app'",
            'treatments': [
                {'name': 'In-app offer', 'percent': 100, 'list_name': 'Win-back - app offer'},
            ],
        },
        {
            'name': 'Everyone else',
            'treatments': [
                {'name': '15 percent off', 'percent': 50, 'list_name': 'Win-back - 15 off'},
                {'name': '20 percent off', 'percent': 40, 'list_name': 'Win-back - 20 off'},
                {'name': 'Holdout', 'percent': 10, 'control': true},
            ],
        },
    ],
    attributes={
        'add': {
            'predicted_clv': {'from': 'stg_amperity__customer_360', 'column': 'predicted_clv'},
            'preferred_store_id': {'from': 'stg_amperity__customer_360', 'column': 'preferred_store_id'},
        },
        'rename': {'loyalty_id': 'loyalty_number'},
        'drop': ['title', 'organization'],
    },
    timing={'type': 'recurring', 'cron': '0 8 * * MON', 'launch_at': '2026-12-07 08:00'},
) }}
