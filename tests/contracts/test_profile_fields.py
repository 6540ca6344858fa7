"""Klaviyo's profile fields are listed twice on purpose — in the loader (which column goes to
``attributes``, ``attributes.location`` or ``properties``: loader/klaviyo/payloads.py) and in
the emulator (what it stores and answers: klaviyo_emulator/store.py), which imports nothing
from the loader. Both must equal each other and, when the OpenAPI is there, Klaviyo's
published profile schema."""

from __future__ import annotations

import json

import pytest

from klaviyo_emulator import store
from loader.klaviyo import payloads
from tests.klaviyo_emulator.contract import openapi_dir

NOT_FIELDS = {"location", "properties", "_kx"}  # nested objects, and Klaviyo's tracking id


def test_the_loader_and_the_emulator_know_the_same_fields() -> None:
    assert set(payloads.IDENTIFIERS) == set(store.IDENTIFIERS)
    assert set(payloads.PROFILE_FIELDS) == set(store.IDENTIFIERS) | set(store.TEXT_FIELDS)
    assert set(payloads.LOCATION_FIELDS) == set(store.LOCATION_FIELDS)


def test_the_fields_are_klaviyos_published_ones() -> None:
    folder = openapi_dir()
    if folder is None:
        pytest.skip("no Klaviyo OpenAPI (../shared/klaviyo-openapi or $KLAVIYO_OPENAPI_DIR)")
    schemas = json.loads((folder / "bulk_import_profiles.json").read_text())["components"][
        "schemas"]
    attributes = schemas["ProfileUpsertQueryResourceObject"]["properties"]["attributes"]
    published = set(attributes["properties"]) - NOT_FIELDS
    location = set(schemas["ProfileLocation"]["properties"])
    assert set(payloads.PROFILE_FIELDS) == published
    assert set(payloads.LOCATION_FIELDS) == location
