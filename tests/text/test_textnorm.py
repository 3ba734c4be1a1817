from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.textnorm import normalize_command, split_args


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("登记 临时 12月31日", "登记 临时 12月31日"),
        ("２０２６－１２－３１", "2026-12-31"),
        ("ＡＢＣ　ｘｙｚ", "ABC xyz"),
        ("登记\u3000\u3000临时", "登记 临时"),
        ("登记\u00a0临时", "登记 临时"),
        ("\t登记\n\r临时  \n", "登记 临时"),
        ("12\u200b月31\u200d日", "12月31日"),
        ("\ufeff登记", "登记"),
        ("\u202e登记\u202c", "登记"),
        ("\u2066登记\u2069 \u200e临时\u200f", "登记 临时"),
        ("登\u2060记\u2063", "登记"),
        ("a\x00b\x07c\x1b", "abc"),
        ("a\u00adb", "ab"),
        ("a \u200b b", "a b"),
        ("\ud800孤立代理", "孤立代理"),
        ("清群，登记", "清群,登记"),
        ("第\u2028二行\u2029", "第 二行"),
    ],
)
def test_normalize_command(raw: str, expected: str) -> None:
    assert normalize_command(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", []),
        ("  \u3000 ", []),
        ("登记 临时  12月31日\u3000征兵体检", ["登记", "临时", "12月31日", "征兵体检"]),
        ("a,b，c、d", ["a,b,c、d"]),
        ("\u200b x \u200b", ["x"]),
    ],
)
def test_split_args(raw: str, expected: list[str]) -> None:
    assert split_args(raw) == expected


def test_long_input_is_fast() -> None:
    text = ("登记\u200b\u3000１２月\u00a0" * 20_000)[:100_000]
    start = time.perf_counter()
    out = normalize_command(text)
    args = split_args(text)
    assert time.perf_counter() - start < 2.0
    assert "\u200b" not in out
    assert len(args) > 1000


@given(st.text())
def test_normalize_properties(text: str) -> None:
    out = normalize_command(text)
    assert out == out.strip()
    assert "  " not in out
    assert all(ch == " " or not ch.isspace() for ch in out)
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs") for ch in out)
    assert normalize_command(out) == out
    assert split_args(text) == (out.split(" ") if out else [])
