"""Numbers in commands are ASCII digits or Chinese numerals: other scripts' digits are refused."""

from __future__ import annotations

import pytest

from bot.commands.kit import Refusal, parse_number, parse_page
from bot.core.textnorm import normalize_command


@pytest.mark.parametrize(
    ("token", "value"),
    [("3", 3), ("#3", 3), ("第3个", 3), ("3号", 3), ("三", 3), ("第十二个", 12), ("一〇二", 102)],
)
def test_ascii_and_chinese_numbers(token: str, value: int) -> None:
    assert parse_number([token], "申请编号", "批准 12") == value


@pytest.mark.parametrize("token", ["٣", "۳", "३", "০", "৩", "0", "1234567", "3a", "三a"])
def test_other_digits_are_not_numbers(token: str) -> None:
    with pytest.raises(Refusal) as err:
        parse_number([token], "申请编号", "批准 12")
    assert err.value.code == "bad_number"
    assert err.value.text == "申请编号须是数字。正确写法：批准 12"


def test_pages() -> None:
    assert parse_page([], "我的群 2") == 1
    assert parse_page(["2"], "我的群 2") == 2
    assert parse_page(["二"], "我的群 2") == 2
    for bad in (["٢"], ["0"], ["2", "3"]):
        with pytest.raises(Refusal):
            parse_page(bad, "我的群 2")


def test_full_width_digits_are_normalised_first() -> None:
    """The IME's full-width digits become ASCII before parsing; Arabic-Indic ones do not."""
    assert normalize_command("批准　３").split() == ["批准", "3"]
    assert normalize_command("批准 ٣").split() == ["批准", "٣"]
