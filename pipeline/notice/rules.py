"""The cross-field rules of a generated form: the built-in statistics form's rules, with the new form's pairs.

A count of sessions followed in its clause by the people who took part (“活动（）场，参与（）人次”) is a
pair: 参与人次 not below 场次, and none without a session. The rules' titles and messages are those of the
built-in ``annex1.toml``, so a spec edit there changes them for every campaign.
"""

from __future__ import annotations

import tomllib
from typing import Any

from pipeline.forms.spec import FORMS_DIR

STANDARD_STATISTICS = FORMS_DIR / "annex1.toml"
PAIR_CHECKS = ("second_ge_first", "first_zero_second_zero")


def participation_rules(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The [[rules]] for these (sessions, participants) pairs; none when there is no pair."""
    if not pairs:
        return []
    with STANDARD_STATISTICS.open("rb") as handle:
        standard = tomllib.load(handle).get("rules", [])
    return [{**rule, "pairs": [list(pair) for pair in pairs]} for rule in standard if rule.get("check") in PAIR_CHECKS]
