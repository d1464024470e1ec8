"""The slide deck, read back with python-pptx and measured with Pillow."""

from __future__ import annotations

import re
import shutil
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from PIL import ImageFont
from pptx import Presentation
from pptx.util import Emu

from briefkit.cli import main
from conftest import CONTENT, TEMPLATES, docx_endnotes, libreoffice_pdf, needs_libreoffice, write

FONTS = TEMPLATES / "fonts"  # Carlito, metric-compatible with the Calibri the deck names
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


@lru_cache(maxsize=None)
def _font(bold: bool, italic: bool) -> ImageFont.FreeTypeFont:
    name = {(False, False): "Carlito-Regular.ttf", (True, False): "Carlito-Bold.ttf", (False, True): "Carlito-Italic.ttf",
            (True, True): "Carlito-BoldItalic.ttf"}
    return ImageFont.truetype(str(FONTS / name[(bold, italic)]), 100)


def _text_height(shape) -> float:
    """Points the shape's text needs when wrapped greedily at spaces, by Carlito's glyph widths."""
    tf = shape.text_frame
    width = Emu(shape.width - tf.margin_left - tf.margin_right).pt
    total = 0.0
    for p in tf.paragraphs:
        ppr = p._p.pPr
        indent = Emu(int(ppr.get("marL", "0"))).pt if ppr is not None else 0
        runs = [(r.text, r.font.size.pt, bool(r.font.bold), bool(r.font.italic), r._r.rPr is not None and r._r.rPr.get("baseline"))
                for r in p.runs]
        if not runs:
            continue
        size = max(s for _, s, *_ in runs)
        lines, x, word = 1, 0.0, 0.0
        for text, s, bold, italic, sup in runs:
            s = s * 0.6 if sup else s
            for piece in re.split(r"( |\v)", text):
                if piece in (" ", "\v"):
                    if x and x + word > width - indent:
                        lines, x = lines + 1, 0.0
                    x += word + (_font(bold, italic).getlength(" ") * s / 100 if piece == " " else 0)
                    word = 0.0
                    if piece == "\v":
                        lines, x = lines + 1, 0.0
                else:
                    word += _font(bold, italic).getlength(piece) * s / 100
        if x and x + word > width - indent:
            lines += 1
        lines += int(word // (width - indent)) if word > width - indent else 0
        pitch = p.line_spacing.pt if hasattr(p.line_spacing, "pt") else size * 1.2
        total += lines * pitch + (p.space_after.pt if p.space_after is not None else 0)
    return total


def assert_nothing_overflows(prs) -> None:
    for n, slide in enumerate(prs.slides, 1):
        for shape in slide.shapes:
            assert shape.left >= 0 and shape.top >= 0, (n, shape.name)
            assert shape.left + shape.width <= prs.slide_width and shape.top + shape.height <= prs.slide_height, (n, shape.name)
            if shape.has_text_frame and shape.text_frame.text.strip():
                room = Emu(shape.height - shape.text_frame.margin_top - shape.text_frame.margin_bottom).pt
                assert _text_height(shape) <= room * 1.001, (n, shape.text_frame.text[:60])


def _titles(prs) -> list[str]:
    """Each slide's title: the text of its title placeholder (every slide has one)."""
    titles = []
    for n, slide in enumerate(prs.slides, 1):
        title = slide.shapes.title
        assert title is not None and title.is_placeholder and title.placeholder_format.idx == 0, n
        titles.append(title.text_frame.text)
    return titles


def _superscripts(prs) -> list[tuple[int, str, str]]:
    """(slide number, text before, superscript label) for every superscript run."""
    out = []
    for n, slide in enumerate(prs.slides, 1):
        for shape in slide.shapes:
            if not shape.has_text_frame:
                continue
            for p in shape.text_frame.paragraphs:
                before = ""
                for r in p.runs:
                    if r._r.rPr is not None and r._r.rPr.get("baseline") == "30000":
                        out.append((n, before, r.text))
                    before += r.text
    return out


def _slide_text(slide) -> str:
    return "\n".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)


@pytest.fixture(scope="module")
def deck(built):
    return Presentation(str(built / "deck.pptx"))


def test_slide_order_and_kinds(deck):
    assert deck.slide_width * 9 == deck.slide_height * 16
    titles = _titles(deck)
    assert titles[0] == "Analysis and Recommendations for U.S. Policy Towards Mexico"
    assert titles[1:4] == ["Agenda", "Strategic Context", "Pillar I: Trade and USMCA"]
    for pillar in ("Trade", "Migration", "Security"):
        i = titles.index(f"{pillar}: the context")
        assert titles[i + 1] == f"{pillar}: key recommendations"
        assert titles[i + 2].startswith(pillar)
    assert "Conclusion" in titles and titles[-1].startswith("Endnotes")


def test_every_key_recommendation_is_on_a_slide(deck):
    text = "\n".join(_slide_text(s) for s in deck.slides)
    recommendations = []
    for path in sorted(CONTENT.glob("*.md")):
        meta = yaml.safe_load(path.read_text(encoding="utf-8").split("---")[1])
        recommendations += meta.get("recommendations", [])
    assert len(recommendations) == 20
    for rec in recommendations:
        assert rec in text, rec


def test_note_numbers_match_the_memo(deck, built):
    memo_notes = docx_endnotes(built / "memo.docx")
    sups = _superscripts(deck)
    labels = {label for _, _, label in sups}
    assert labels == {"i", "iv", "viii", "xiv"}
    assert any(before.endswith("USMCA review") and label == "iv" for _, before, label in sups)
    endnote_text = "\n".join(_slide_text(s) for s, t in zip(deck.slides, _titles(deck)) if t.startswith("Endnotes"))
    roman = {"i": 1, "iv": 4, "viii": 8, "xiv": 14}
    for label, number in roman.items():
        first_words = " ".join(memo_notes[number].split()[:4])
        assert f"{label}\u2002{first_words}" in endnote_text


def test_every_slide_has_speaker_notes(deck):
    for n, slide in enumerate(deck.slides, 1):
        assert slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip(), n
    pillar_notes = [s.notes_slide.notes_text_frame.text for s, t in zip(deck.slides, _titles(deck)) if t == "Trade: the context"][0]
    assert "Strengthening trade relations with Mexico will be essential" in pillar_notes


def test_nothing_overflows_the_real_deck(deck):
    assert_nothing_overflows(deck)


def test_long_pillar_continues_on_new_slides(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    recs = "\n".join(f"  - Recommendation {i} " + "with a long explanation of what to do and why it matters " * 3
                     for i in range(1, 26))
    long_word = "W" * 600
    write(content, "water.md", f"""---
kind: pillar
order: 4
title: Water
short_title: Water
summary: A very long summary. {"Shared rivers and aquifers need joint management. " * 40} {long_word}
recommendations:
{recs}
---
# Analysis

Text.

# Recommendations

More text.
""")
    out = tmp_path / "out"
    assert main(["build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(out), "--format", "pptx", "-q"]) == 0
    prs = Presentation(str(out / "deck.pptx"))
    titles = _titles(prs)
    assert "Water: key recommendations (cont.)" in titles and "Water: the context (cont.)" in titles
    text = "\n".join(_slide_text(s) for s in prs.slides)
    for i in range(1, 26):
        assert f"Recommendation {i} with" in text
    sizes = {r.font.size.pt for s in prs.slides for sh in s.shapes if sh.has_text_frame
             for p in sh.text_frame.paragraphs for r in p.runs if r.font.size is not None}
    assert min(sizes) >= 10  # footer furniture is 10 pt; body text never below the 14 pt floor
    body_sizes = {r.font.size.pt for s, t in zip(prs.slides, titles) if "Water" in t
                  for sh in s.shapes if sh.has_text_frame and sh.height > 2 * 914400
                  for p in sh.text_frame.paragraphs for r in p.runs}
    assert min(body_sizes) >= 14
    assert_nothing_overflows(prs)


def test_reference_pptx_supplies_the_master(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    ref = Presentation()
    ref.slide_width, ref.slide_height = Emu(12192000), Emu(6858000)
    ref.save(str(templates / "reference.pptx"))
    out = tmp_path / "out"
    assert main(["build", "--templates", str(templates), "--content", str(CONTENT), "--out", str(out), "--format", "pptx", "-q"]) == 0
    prs = Presentation(str(out / "deck.pptx"))
    layouts = {s.slide_layout.name for s in prs.slides}
    assert {"Title Slide", "Section Header", "Title and Content", "Title Only"} <= layouts
    assert all(t for t in _titles(prs))
    assert_nothing_overflows(prs)


def test_reference_pptx_without_a_layout_is_an_error(tmp_path, capsys):
    templates = tmp_path / "templates"
    templates.mkdir()
    ref = Presentation()
    ref.slide_layouts.remove(ref.slide_layouts.get_by_name("Section Header"))
    ref.save(str(templates / "reference.pptx"))
    out = tmp_path / "out"
    assert main(["build", "--templates", str(templates), "--content", str(CONTENT), "--out", str(out), "--format", "pptx", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{templates}/reference.pptx: error: the reference deck has no 'Section Header' layout (it has: Title Slide, "
                   "Title and Content, Two Content, Comparison, Title Only, Blank, Content with Caption, Picture with Caption, "
                   "Title and Vertical Text, Vertical Title and Text); the deck uses Title Slide, Section Header, "
                   "Title and Content, Title Only"]
    assert not out.exists() or not (out / "deck.pptx").exists()


@needs_libreoffice
def test_libreoffice_opens_the_deck(built, tmp_path):
    reader = libreoffice_pdf(built / "deck.pptx", tmp_path)
    assert len(reader.pages) == len(Presentation(str(built / "deck.pptx")).slides)
    assert "key recommendations" in reader.pages[5].extract_text()
