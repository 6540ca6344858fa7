"""A hand-made `klaviyo_campaigns` registry for tests of the commands that read it."""

REGISTRY_DDL = """
create table main.klaviyo_campaigns (
    campaign_id varchar, campaign_name varchar, campaign_type varchar,
    audience_relation varchar, identifier varchar, update_contacts boolean, send_mode varchar,
    send_at timestamp, schedule_cron varchar, schedule_interval_minutes integer,
    launch_at timestamp, attribute_columns varchar, list_names varchar, destination_id varchar,
    destination_name varchar, built_at timestamp, dbt_invocation_id varchar
)"""
