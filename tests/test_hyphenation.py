"""The quick reading of pyphen's dictionaries gives the table pyphen's own reader builds."""

from __future__ import annotations

import re
from pathlib import Path

import pyphen
import pytest

from briefkit.render.hyphenation import hyphenator, patterns

DICTIONARIES = sorted(set(pyphen.LANGUAGES.values()))


@pytest.mark.parametrize("path", DICTIONARIES, ids=lambda p: Path(p).name)
def test_each_dictionary_reads_as_pyphen_reads_it(path) -> None:
    table = patterns(Path(path))
    if table is None:  # ^^hh characters, nonstandard hyphenation or two digits in a row: left to pyphen
        assert re.search(rb"\^\^|/|\d\d", Path(path).read_bytes().split(b"\n", 1)[1])
        return
    assert table == pyphen.HyphDict(path).patterns


def test_words_break_where_pyphen_breaks_them() -> None:
    words = ["hyphenation", "manufacturing", "semiconductors", "infrastructure", "competitiveness",
             "Internationalization", "transnational", "accountability"]
    ours = hyphenator("en-US", left=3, right=3)
    theirs = pyphen.Pyphen(filename=pyphen.LANGUAGES["en_US"], left=3, right=3, cache=False)
    assert [list(ours.iterate(w)) for w in words] == [list(theirs.iterate(w)) for w in words]
    assert any(list(ours.iterate(w)) for w in words)
    assert hyphenator("tlh", left=3, right=3) is None
