"""Our hand-written limits table agrees with Klaviyo's OpenAPI (skipped when it is absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from loader.klaviyo.limits import LIMITS, estimate_seconds

# $KLAVIYO_OPENAPI_DIR, else <repo>/../shared/klaviyo-openapi (as the emulator contract check)
OPENAPI = Path(os.environ.get("KLAVIYO_OPENAPI_DIR")
               or Path(__file__).resolve().parents[3] / "shared" / "klaviyo-openapi")


def _per(text: str) -> int:
    return int(text.split("/")[0])


@pytest.mark.contract
@pytest.mark.skipif(not OPENAPI.is_dir(),
                    reason="no Klaviyo OpenAPI (../shared/klaviyo-openapi, $KLAVIYO_OPENAPI_DIR)")
def test_limits_match_openapi() -> None:
    checked = 0
    for op, lim in LIMITS.items():
        path = OPENAPI / f"{op}.json"
        if not path.exists():
            continue
        doc = json.loads(path.read_text())
        for ops in doc["paths"].values():
            for spec in ops.values():
                if not isinstance(spec, dict) or spec.get("operationId") != op:
                    continue
                rl = spec["x-klaviyo-ratelimit"]
                assert _per(rl["burst"]) == lim.burst_per_s, op
                assert _per(rl["steady"]) == lim.steady_per_min, op
                assert (_per(rl["daily"]) if "daily" in rl else None) == lim.daily, op
                sizes = [p for p in spec.get("parameters", []) if p["name"] == "page[size]"]
                if sizes and lim.page_max is not None:
                    assert sizes[0]["schema"]["maximum"] == lim.page_max, op
                checked += 1
    assert checked >= 15


def test_estimate_from_published_limits() -> None:
    assert estimate_seconds("bulk_import_profiles", 1) == 0
    assert estimate_seconds("bulk_import_profiles", 10) == pytest.approx(0.9)
    assert estimate_seconds("bulk_import_profiles", 151) == pytest.approx(60.0)
    assert estimate_seconds("bulk_import_profiles", 300) >= 60.0
