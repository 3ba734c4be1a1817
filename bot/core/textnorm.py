"""Normalisation of chat command text before parsing.

WeChat users type commands with full-width digits, ideographic spaces, stray
zero-width characters pasted from documents and the occasional bidi mark.
Everything here is a pure, linear-time function that never raises on a `str`.
"""

from __future__ import annotations

import unicodedata

__all__ = ["clean_name", "normalize_command", "split_args"]

# Format/control characters that are removed outright (not turned into spaces).
# Most are covered by the Cc/Cf category test below; they are listed explicitly
# so the intent survives Unicode version changes.
_EXPLICIT_STRIP = frozenset(
    [chr(c) for c in range(0x200B, 0x2010)]  # ZWSP, ZWNJ, ZWJ, LRM, RLM
    + [chr(c) for c in range(0x202A, 0x202F)]  # bidi embeddings/overrides
    + [chr(c) for c in range(0x2060, 0x2065)]  # word joiner, invisible operators
    + [chr(c) for c in range(0x2066, 0x206A)]  # bidi isolates
    + ["\ufeff", "\u00ad", "\u180e"]  # BOM / ZWNBSP, soft hyphen, Mongolian vowel separator
)
_STRIP_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def _clean(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch.isspace():
            out.append(" ")
        elif ch in _EXPLICIT_STRIP or unicodedata.category(ch) in _STRIP_CATEGORIES:
            continue
        else:
            out.append(ch)
    return "".join(out)


def normalize_command(text: str) -> str:
    """Return `text` in canonical command form.

    NFKC (full-width digits, letters, punctuation and U+3000 become ASCII),
    zero-width/bidi/control characters removed, every whitespace run (incl.
    NBSP, U+3000, newlines) collapsed to one ASCII space, ends stripped.
    """
    # Clean before NFKC so lone surrogates never reach the normaliser, and
    # again afterwards because compatibility decompositions may yield spaces.
    normalized = unicodedata.normalize("NFKC", _clean(text))
    return " ".join(_clean(normalized).split())


def split_args(text: str) -> list[str]:
    """Normalise `text` and split it on whitespace (commas are not separators)."""
    return normalize_command(text).split()


# Bidi embeddings, overrides and isolates: an echoed name must not reorder the reply around it.
_BIDI_CONTROLS = frozenset([chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)])


def clean_name(text: str) -> str:
    """A room or contact name fit to store and echo back.

    Control characters are removed (NUL included: PostgreSQL rejects it in text), line breaks
    and tabs become spaces, lone surrogates and bidi controls go; everything else, emoji
    joiners included, is kept as typed.
    """
    out: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc":
            if ch.isspace():
                out.append(" ")
        elif category != "Cs" and ch not in _BIDI_CONTROLS:
            out.append(ch)
    return "".join(out).strip()
