"""The report colours a lift up or down only when the comparison can tell: the interval
excludes 0, the test agrees (p below 1 − the level) and each group has enough purchasers and
non-purchasers for the normal approximation (docs/results.md). A trial's case: a holdout of one
customer, who did not buy, against a treatment group of 8 with 2 purchasers: the Wald interval
(+6 to +44 points) excluded 0 while the test's p was 0.567, and the page showed a green lift."""

from __future__ import annotations

from decimal import Decimal

from loader.report.render import significant, too_few

TINY_CONTROL = {"purchasers": 2, "recipients": 8, "control_purchasers": 0,
                "control_recipients": 1, "conversion_lift_low": Decimal("0.06"),
                "conversion_lift_high": Decimal("0.44"), "conversion_p_value": Decimal("0.567"),
                "confidence_level": Decimal("0.95")}


def _direction(r: dict) -> str:
    return significant(r["conversion_lift_low"], r["conversion_lift_high"],
                       r["conversion_p_value"], r["confidence_level"], too_few(r))


def test_a_tiny_control_group_shows_no_direction() -> None:
    assert too_few(TINY_CONTROL)
    assert _direction(TINY_CONTROL) == ""


def test_an_interval_the_test_does_not_confirm_shows_no_direction() -> None:
    r = {**TINY_CONTROL, "purchasers": 400, "recipients": 1000, "control_purchasers": 300,
         "control_recipients": 1000}
    assert not too_few(r)
    assert _direction(r) == ""  # p 0.567 >= 0.05
    assert _direction({**r, "conversion_p_value": Decimal("0.001")}) == "up"
    assert _direction({**r, "conversion_p_value": Decimal("0.001"),
                       "conversion_lift_low": Decimal("-0.3"),
                       "conversion_lift_high": Decimal("-0.1")}) == "down"
    assert _direction({**r, "conversion_p_value": Decimal("0.001"),
                       "conversion_lift_low": Decimal("-0.1")}) == ""
