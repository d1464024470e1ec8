"""The TrueType reader behind the glyph check and the memo's figure widths, against fontTools."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import reportlab
from fontTools.ttLib import TTFont

from briefkit.cli import main
from briefkit.glyphs import font
from conftest import TEMPLATES

logging.getLogger("fontTools").setLevel(logging.ERROR)
FONTS = sorted((Path(__file__).parent.parent / "src/briefkit/defaults/fonts").glob("*.ttf")) + \
    sorted((Path(reportlab.__file__).parent / "fonts").glob("*.ttf"))


@pytest.mark.parametrize("path", FONTS, ids=lambda p: p.name)
def test_characters_and_widths_match_fonttools(path: Path) -> None:
    ours = font(path)
    with TTFont(str(path), lazy=True) as theirs:
        order = theirs.getGlyphOrder()
        assert {char: order[glyph] for char, glyph in ours.cmap.items()} == theirs.getBestCmap()
        assert [theirs["hmtx"][name][0] for name in order] == ours.advances
        assert ours.units == theirs["head"].unitsPerEm


def test_a_file_that_is_no_font_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notafont.ttf"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(Exception, match="is not a TrueType font"):
        font(path)


def test_a_character_no_font_draws_is_a_warning_at_its_line(content_copy: Path, capsys) -> None:
    trade = content_copy / "trade.md"
    lines = trade.read_text(encoding="utf-8").split("\n")
    body = next(i for i, line in enumerate(lines) if i > 1 and line and not line.startswith(("---", " ", "#"))
                and ":" not in line)
    lines[body] += " Coordination \u2f08 matters \u2f08."  # a Kangxi radical: in none of the theme's fonts
    trade.write_text("\n".join(lines), encoding="utf-8")

    assert main(["check", "--content", str(content_copy), "--templates", str(TEMPLATES)]) == 0
    warnings = [w for w in capsys.readouterr().err.splitlines() if "U+2F08" in w]
    assert warnings == [f"{trade}:{body + 1}: warning: '\u2f08' (U+2F08) is in none of the theme's fonts "
                        "(Cambria, Calibri, Courier New and the files behind them): it would print as an empty "
                        "box; use another character or set fonts that have it in theme.yaml"]
    assert main(["check", "--strict", "--content", str(content_copy), "--templates", str(TEMPLATES)]) == 1
