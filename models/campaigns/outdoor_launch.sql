{#-
    Outdoor gear launch: outdoor enthusiasts (minus the unsubscribed) get every invitation they
    qualify for (first match off): store shoppers an in-store event, big spenders an early
    preview (with a 10 % holdout). A big-spending store shopper is in both lists.
-#}
{{ klaviyo_campaign(
    name='Outdoor gear launch',
    campaign_id='outdoor_launch',
    include=['seg_outdoor_enthusiasts'],
    exclude=['seg_email_unsubscribed'],
    first_match_only=false,
    sub_audiences=[
        {
            'name': 'Store event',
            'condition': "preferred_channel = 'store'",
            'treatments': [
                {'name': 'Invite', 'percent': 100, 'list_name': 'Outdoor launch - store event'},
            ],
        },
        {
            'name': 'Early preview',
            'condition': 'lifetime_revenue >= 500',
            'treatments': [
                {'name': 'Preview', 'percent': 90, 'list_name': 'Outdoor launch - early preview'},
                {'name': 'Holdout', 'percent': 10, 'control': true},
            ],
        },
    ],
    timing={'type': 'one_time', 'send_at': '2026-04-15 14:00', 'launch_at': '2026-04-15 14:00'},
) }}
