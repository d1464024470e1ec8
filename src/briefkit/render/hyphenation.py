"""Hyphenation by pyphen's dictionaries, each read in one quick pass.

pyphen parses every pattern of a dictionary with a regular expression and a zip, which takes
longer than laying out a short brief; the patterns of a plain dictionary (digits between
letters, as almost all are) are read here into the same table pyphen builds and uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyphen

_DIGITS = re.compile(r"\d")
# what only pyphen's own reader handles: ^^hh characters, nonstandard hyphenation (ff=f), two digits in a row
_SPECIAL = re.compile(r"\^\^|/|\d\d")
_NOT_PATTERNS = ("%", "#", "LEFTHYPHENMIN", "RIGHTHYPHENMIN", "COMPOUNDLEFTHYPHENMIN", "COMPOUNDRIGHTHYPHENMIN")


def patterns(path: Path) -> dict[str, tuple[int, tuple[int, ...]]] | None:
    """pyphen's table of a dictionary, {letters: (offset of the first break value, the values up to
    the last non-zero)}; None for a dictionary with what only pyphen reads."""
    with path.open("rb") as f:
        encoding = f.readline().decode().strip()
    text = path.read_text("cp1251" if encoding.lower() == "microsoft-cp1251" else encoding)
    table = {}
    for line in text.split("\n")[1:]:
        line = line.strip()
        if not line or line.startswith(_NOT_PATTERNS):
            continue
        if _SPECIAL.search(line):
            return None
        values = {}  # letters before a digit -> the digit
        for n, digit in enumerate(_DIGITS.finditer(line)):
            if digit.group() != "0":
                values[digit.start() - n] = int(digit.group())
        if values:
            first, last = min(values), max(values)
            table[_DIGITS.sub("", line)] = first, tuple(values.get(i, 0) for i in range(first, last + 1))
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
