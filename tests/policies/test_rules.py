from __future__ import annotations

from pathlib import Path

import pytest

from policies.rules import DEFAULT_PATH, RulesError, load_rules


def test_default_rules_match_issue_thresholds() -> None:
    r = load_rules()
    assert r.timezone == "Asia/Shanghai"
    assert (r.expiry.ending_soon_days, r.registration.unregistered_after_days) == (3, 7)
    assert (r.idle.days, r.idle.standing_days) == (30, 90)
    assert (r.duplicate.jaccard, r.duplicate.min_members) == (0.8, 3)
    assert (r.after_hours.share, r.after_hours.window_days) == (0.3, 30)
    assert r.names.words["征兵"].kind == "phase"
    assert load_rules(DEFAULT_PATH) == r


@pytest.mark.parametrize(
    ("text", "entry", "line"),
    [
        ("[idle]\ndays = 0\n", "[idle].days", 2),
        ("[idle]\ndays = 30\nweeks = 3\n", "[idle].weeks", 3),
        ('[idle]\ndays = "30"\n', "[idle].days", 2),
        ("[duplicate]\njaccard = 1.5\n", "[duplicate].jaccard", 2),
        ("[after_hours]\nshare = 0\n", "[after_hours].share", 2),
        ('colour = "red"\n', "colour", 1),
        ('[names.words]\n"征兵" = { kind = "forever", window_days = 30 }\n', "[names.words].征兵.kind", 2),
        ('[names.words]\n"征兵" = { kind = "phase", window = 30 }\n', "[names.words].征兵", 2),
        ('[names.events]\n"汛期" = "13-40"\n', "[names].events", 1),
        ('[names.standing]\npatterns = ["(镇"]\n', "[names.standing].patterns", 2),
        ('timezone = "Mars/Olympus"\n', "timezone", 1),
    ],
)
def test_bad_rule_files_are_refused(tmp_path: Path, text: str, entry: str, line: int) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    msg = str(err.value)
    assert str(path) in msg, msg
    assert entry in msg, msg
    assert f"{path}:{line}:" in msg, msg


def test_syntax_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text("[idle\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"r\.toml.*line 1"):
        load_rules(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "nope.toml")
