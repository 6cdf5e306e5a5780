"""Names people type (avatar names) as others will see them: invisible characters do not count.

A name of zero-width spaces, Hangul fillers or a blank Braille pattern looks empty in every list it appears in,
so it is normalised before its length is checked: NFC; control and format characters (zero-width spaces, word
joiners, byte-order marks, direction marks and overrides, soft hyphens; zero-width joiners unless between two
visible characters) and the blank look-alikes removed; combining marks kept only on a character they can sit
on; whitespace collapsed.
"""

from __future__ import annotations

import unicodedata

# Letters and symbols that draw nothing: the Hangul fillers and the blank Braille pattern.
BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Joiners shape the characters around them (emoji sequences, Persian and Indic words): kept between two visible
# characters, removed anywhere else.
JOINERS = frozenset("\u200c\u200d")
# Control, format and lone surrogate code points (a surrogate could not even be stored as UTF-8).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def _invisible(char: str) -> bool:
    return char in BLANKS or unicodedata.category(char) in INVISIBLE_CATEGORIES


def _mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def visible_name(text: str) -> str:
    """``text`` reduced to what is seen (see the module's docstring); may come out empty."""
    chars = unicodedata.normalize("NFC", text or "")
    kept: list[str] = []
    for i, char in enumerate(chars):
        # What the kept text ends with, if anything a mark or a joiner can attach to.
        base = bool(kept) and kept[-1] != " " and kept[-1] not in JOINERS
        if char.isspace():
            kept.append(" ")
        elif char in JOINERS:
            after = chars[i + 1] if i + 1 < len(chars) else " "
            if base and not (after.isspace() or _invisible(after) or _mark(after)):
                kept.append(char)
        elif _invisible(char) or (_mark(char) and not base):
            continue
        else:
            kept.append(char)
    return " ".join("".join(kept).split())
