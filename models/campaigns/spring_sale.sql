{#-
    Spring sale: the demo campaign. High-value and recent buyers, minus anyone unsubscribed
    from email, split 45 / 45 between two offers with a 10 % holdout.
-#}
{{ klaviyo_campaign(
    name='Spring sale',
    campaign_id='spring_sale',
    include=['seg_high_value_customers', 'seg_recent_buyers'],
    exclude=['seg_email_unsubscribed'],
    sub_audiences=[
        {
            'name': 'Everyone',
            'treatments': [
                {'name': 'Offer A', 'percent': 45, 'list_name': 'Spring sale - offer A'},
                {'name': 'Offer B', 'percent': 45, 'list_name': 'Spring sale - offer B'},
                {'name': 'Holdout', 'percent': 10, 'control': true},
            ],
        },
    ],
    timing={'type': 'one_time', 'send_at': 'asap', 'launch_at': '2026-03-20 09:00'},
) }}
