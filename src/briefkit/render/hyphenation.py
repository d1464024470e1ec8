"""Hyphenation by pyphen's dictionaries, each read in one quick pass.

pyphen parses every pattern of a dictionary with a regular expression and a zip, which takes
longer than laying out a short brief; the patterns of a plain dictionary (digits between
letters, as almost all are) are read here into the same table pyphen builds and uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyphen

# what only pyphen's own reader handles: ^^hh characters, nonstandard hyphenation (ff=f), two digits in a row
_SPECIAL = re.compile(rb"\^\^|/|\d\d")
_DIGITS = b"0123456789"
# UTF-8 bytes to gaps: each character's first byte a ',', its other bytes (0x80-0xBF) gone, digits kept
_GAPS = bytes(b if b in _DIGITS or b == ord("\n") else ord(",") for b in range(256))
_CONTINUATION = bytes(range(0x80, 0xC0))
_NOT_PATTERNS = ("%", "#", "LEFTHYPHENMIN", "RIGHTHYPHENMIN", "COMPOUNDLEFTHYPHENMIN", "COMPOUNDRIGHTHYPHENMIN")


def patterns(path: Path) -> dict[str, tuple[int, tuple[int, ...]]] | None:
    """pyphen's table of a dictionary, {letters: (offset of the first break value, the values up to
    the last non-zero)}; None for a dictionary with what only pyphen reads."""
    with path.open("rb") as f:
        encoding = f.readline().decode().strip()
    text = path.read_text("cp1251" if encoding.lower() == "microsoft-cp1251" else encoding)
    lines = [line for line in map(str.strip, text.split("\n")[1:]) if line and not line.startswith(_NOT_PATTERNS)]
    data = "\n".join(lines).encode()
    if _SPECIAL.search(data):
        return None
    # all lines at once: the letters alone, and the break values alone, a 0 for each gap without a digit
    letters = data.translate(None, _DIGITS).decode().split("\n")
    gaps = b"\n" + data.translate(_GAPS, _CONTINUATION) + b"\n"
    for empty, zero in ((b",,", b",0,"), (b",,", b",0,"), (b"\n,", b"\n0,"), (b",\n", b",0\n")):
        gaps = gaps.replace(empty, zero)
    values = gaps[1:-1].replace(b",", b"").decode().split("\n")
    table = {}
    for key, digits in zip(letters, values):
        if marked := digits.strip("0"):
            table[key] = len(digits) - len(digits.lstrip("0")), tuple(map(int, marked))
    return table


def hyphenator(language: str, left: int, right: int) -> pyphen.Pyphen | None:
    """pyphen's hyphenator for a language tag ('en-US'), None when pyphen has no dictionary for it."""
    found = pyphen.language_fallback(language.replace("-", "_"))
    if not found:
        return None
    path = pyphen.LANGUAGES[found]
    if path not in pyphen.hdcache and (table := patterns(Path(path))) is not None:
        quick = pyphen.HyphDict.__new__(pyphen.HyphDict)
        quick.patterns, quick.cache, quick.maxlen = table, {}, max(map(len, table))
        pyphen.hdcache[path] = quick
    return pyphen.Pyphen(lang=found, left=left, right=right)
