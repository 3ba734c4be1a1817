"""The one Chinese font every report draws with: Noto Sans SC, shipped as a Python package.

It comes from PyPI (`pylopdf-fonts-zh-cn`, the upstream Noto CJK Simplified Chinese subset) so
a fresh virtualenv, CI and the Docker image all have it without any system font. matplotlib
gets it by file path, not through the system font cache, and web pages embed a subset of it.
"""

from __future__ import annotations

import io
import logging
from functools import cache
from pathlib import Path

from fontTools import subset as ft_subset
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from pylopdf_fonts_zh_cn import sans_path

FONT_PATH: Path = sans_path()


@cache
def _cmap() -> frozenset[int]:
    with TTFont(str(FONT_PATH), lazy=True) as font:
        return frozenset(font.getBestCmap())


def uncovered(text: str) -> str:
    """The distinct characters of `text` the font has no glyph for (whitespace aside), in order."""
    cmap = _cmap()
    return "".join(dict.fromkeys(ch for ch in text if not ch.isspace() and ord(ch) not in cmap))


@cache
def matplotlib_family() -> str:
    """Register the font file with matplotlib (once) and return its family name."""
    font_manager.fontManager.addfont(str(FONT_PATH))
    return str(font_manager.FontProperties(fname=str(FONT_PATH)).get_name())


def subset(text: str) -> bytes:
    """An OpenType font holding just the glyphs `text` needs (plus ASCII), for embedding."""
    # fontTools logs every glyph list at INFO; the CLI routes stdlib logging to the terminal.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    options = ft_subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = ft_subset.Subsetter(options=options)
    ascii_printable = "".join(chr(c) for c in range(0x20, 0x7F))
    subsetter.populate(text=ascii_printable + text)
    with TTFont(str(FONT_PATH)) as font:
        subsetter.subset(font)
        buf = io.BytesIO()
        font.save(buf)
    return buf.getvalue()
