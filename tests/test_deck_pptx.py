"""The slide deck, read back with python-pptx and measured with Pillow."""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import zipfile
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml
from PIL import ImageFont
from pptx import Presentation
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu

import briefkit
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
    """Points the shape's text needs when wrapped greedily at spaces and zero width spaces (where
    an address may break), by Carlito's glyph widths."""
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
            for piece in re.split("( |\v|\u200b)", text):
                if piece in (" ", "\v", "\u200b"):
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


THEME = yaml.safe_load((TEMPLATES / "theme.yaml").read_text(encoding="utf-8"))
BUDGET = THEME["deck"]
FURNITURE = ("Footer", "Slide number", "Sources")


def _body_paragraphs(slide) -> list[str]:
    """The non-empty paragraphs of a slide's text, without title, footer, number and sources."""
    return [p.text for sh in slide.shapes if sh.has_text_frame and sh != slide.shapes.title and sh.name not in FURNITURE
            for p in sh.text_frame.paragraphs if p.text.strip()]


def _lead_ins(markdown: str) -> list[str]:
    """A recommendations part's lead-ins, read straight from the file: ### headings and bold lead sentences."""
    part = markdown.split("\n# Recommendations", 1)[1]
    return [m.group(1) or m.group(2) for m in re.finditer(r"^### +(.+?)\s*$|^\*\*(.+?)\*\*", part, re.M)]


def test_slide_order_and_kinds(deck):
    assert deck.slide_width * 9 == deck.slide_height * 16
    titles = _titles(deck)
    assert titles[0] == "Analysis and Recommendations for U.S. Policy Towards Mexico"
    assert titles[1:4] == ["Agenda", "Strategic Context", "Pillar I: Trade and USMCA"]
    for pillar in ("Trade", "Migration", "Security"):
        i = titles.index(f"{pillar}: the context")
        assert titles[i + 1] == f"{pillar}: key recommendations"
        assert titles[i + 2].startswith(pillar)
        assert titles.index(f"{pillar}: recommendations in detail") > titles.index("Policy Recommendations") > i
    assert titles.index("Summary of recommendations") > titles.index("Conclusion")
    assert titles[-1].startswith("Endnotes")
    layouts = [s.slide_layout.name for s in deck.slides]
    assert layouts[0] == "Title Slide" and layouts[titles.index("Policy Recommendations")] == "Section Header"
    assert layouts[titles.index("Trade: key figures")] == "Title Only"
    # content titles sit at one place, and their text is in the body placeholder
    places = {(s.shapes.title.left, s.shapes.title.top, s.shapes.title.width) for s in deck.slides
              if s.slide_layout.name in ("Title and Content", "Title Only")}
    assert len(places) == 1
    for slide in deck.slides:
        if slide.slide_layout.name == "Title and Content":
            body = [sh for sh in slide.placeholders if sh.placeholder_format.idx == 1]
            assert body and body[0].text_frame.text.strip()


def test_every_key_recommendation_is_on_a_slide(deck):
    text = "\n".join(_slide_text(s) for s in deck.slides)
    recommendations = []
    for path in sorted(CONTENT.glob("*.md")):
        meta = yaml.safe_load(path.read_text(encoding="utf-8").split("---")[1])
        recommendations += meta.get("recommendations", [])
    assert len(recommendations) == 20
    for rec in recommendations:
        assert rec in text, rec


def test_every_detailed_recommendation_lead_in_is_on_its_pillar_slides(deck):
    titles = _titles(deck)
    count = 0
    for path in sorted(CONTENT.glob("*.md")):
        source = path.read_text(encoding="utf-8")
        meta = yaml.safe_load(source.split("---")[1])
        if meta["kind"] != "pillar":
            continue
        title = f"{meta['short_title']}: recommendations in detail"
        text = "\n".join(_slide_text(s) for s, t in zip(deck.slides, titles) if t.startswith(title))
        for lead in _lead_ins(source):
            assert lead in text, lead
            count += 1
    assert count == 15


def assert_within_budget(prs) -> int:
    """Every content slide (not the endnotes) within the theme's words and items; returns how many."""
    checked = 0
    for n, (slide, title) in enumerate(zip(prs.slides, _titles(prs)), 1):
        if slide.slide_layout.name != "Title and Content" or title.startswith("Endnotes"):
            continue
        paras = _body_paragraphs(slide)
        assert 0 < len(paras) <= BUDGET["max_items"], (n, title, len(paras))
        assert sum(len(p.split()) for p in paras) <= BUDGET["max_words"], (n, title)
        checked += 1
    return checked


def test_content_slides_keep_the_density_budget(deck):
    assert assert_within_budget(deck) >= 15
    # long prose shows its lead sentence; the rest is in the notes
    slide = deck.slides[_titles(deck).index("Trade: the context")]
    assert _body_paragraphs(slide) == ["The U.S.-Mexico economic relationship offers substantial strategic advantages "
                                       "for the United States in a world shaped by economic competition."]
    assert "recent protectionist measures threaten" in slide.notes_slide.notes_text_frame.text


def test_speaker_notes_are_talking_points(deck):
    for n, slide in enumerate(deck.slides, 1):
        assert slide.has_notes_slide, n
        paras = [p for p in slide.notes_slide.notes_text_frame.paragraphs if p.text.strip()]
        points = [p for p in paras if not p.text.startswith(THEME["labels"]["sources"] + ":")]
        assert points, n
        for p in points:
            assert p._p.pPr is not None and p._p.pPr.find(f"{A}buChar") is not None, (n, p.text)
        assert sum(len(p.text.split()) for p in points) <= BUDGET["notes_words"], n
    titles = _titles(deck)
    section = deck.slides[titles.index("Pillar I: Trade and USMCA")].notes_slide.notes_text_frame.text
    assert "Strengthening trade relations with Mexico will be essential" in section
    assert "Pillar I" not in section  # what the section argues, not its title again


def test_sources_at_the_foot_and_no_markers_in_cards(deck, built):
    memo_notes = docx_endnotes(built / "memo.docx")
    titles = _titles(deck)
    slide = deck.slides[titles.index("Trade: key figures")]
    foot = [sh for sh in slide.shapes if sh.name == "Sources"]
    assert len(foot) == 1
    text = foot[0].text_frame.text
    assert text.startswith("Sources: i Garrison, Cassandra") and "; iv David A. Gantz" in text
    assert all(r.font.size.pt == BUDGET["source_size"] for p in foot[0].text_frame.paragraphs for r in p.runs)
    assert foot[0].top >= max(sh.top + sh.height for sh in slide.shapes if sh.name.startswith("Decoration: card"))
    assert slide.notes_slide.notes_text_frame.paragraphs[-1].text == text  # the notes list them too
    labels = [sh for sh in slide.shapes if sh.name == "Figure label"]
    assert len(labels) == 3 and "of U.S. agriculture imports come from Mexico" in labels[1].text_frame.text
    assert not [n for n, *_ in _superscripts(deck) if deck.slides[n - 1] == slide]  # no citation marker in a card
    endnote_text = "\n".join(_slide_text(s) for s, t in zip(deck.slides, titles) if t.startswith("Endnotes"))
    roman = {"i": 1, "iv": 4, "viii": 8, "xiv": 14}
    for label, number in roman.items():
        first_words = " ".join(memo_notes[number].split()[:4])
        assert f"{label}\u2002{first_words}" in endnote_text


def test_figure_cards_fill_the_slide_by_count(deck):
    titles = _titles(deck)
    for title, count in (("Trade: key figures", 3), ("Migration: key figures", 1)):
        slide = deck.slides[titles.index(title)]
        cards = [sh for sh in slide.shapes if sh.name == "Decoration: card"]
        assert len(cards) == count
        if count == 1:  # one card: large and centred
            assert abs(cards[0].left + cards[0].width / 2 - deck.slide_width / 2) < Emu(914400 * 0.01)
            assert cards[0].width > deck.slide_width / 2 and cards[0].height > deck.slide_height / 2
        else:
            left, right = min(c.left for c in cards), max(c.left + c.width for c in cards)
            assert right - left > deck.slide_width * 0.85


def test_parts_are_numbered_in_slide_order(deck):
    """Slide N is slide{N}.xml with notesSlide{N}.xml, as python-pptx numbers them, whatever hands out the names."""
    for n, slide in enumerate(deck.slides, 1):
        assert slide.part.partname == f"/ppt/slides/slide{n}.xml"
        assert slide.notes_slide.part.partname == f"/ppt/notesSlides/notesSlide{n}.xml"


PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _rels(z: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships read from its .rels file: {rId: (type's last word, target part or URL)}."""
    folder, name = part.rsplit("/", 1)
    rels = ET.fromstring(z.read(f"{folder}/_rels/{name}.rels")).findall(PKG_REL)
    ids = [r.get("Id") for r in rels]
    assert len(ids) == len(set(ids)), part  # relationship ids are unique in each part
    return {r.get("Id"): (r.get("Type").rsplit("/", 1)[1], r.get("Target") if r.get("TargetMode") == "External"
                          else posixpath.normpath(posixpath.join(folder, r.get("Target")))) for r in rels}


def test_package_relationships_hold_together(built):
    """Read as zip XML: each slide is listed once with a unique id, relates to a layout whose placeholders it
    fills and to its own notes page, which relates back and to the notes master; every shape id on a slide is
    unique, every hyperlink's relationship is an external link of its own part, and every part has a content type."""
    with zipfile.ZipFile(built / "deck.pptx") as z:
        names = set(z.namelist())
        types = ET.fromstring(z.read("[Content_Types].xml"))
        overrides = {o.get("PartName").lstrip("/") for o in types if o.get("PartName")}
        defaults = {d.get("Extension") for d in types if d.get("Extension")}
        for name in names - {"[Content_Types].xml"}:
            assert name in overrides or name.rsplit(".", 1)[1] in defaults, name
        pres_rels = _rels(z, "ppt/presentation.xml")
        sld_ids = ET.fromstring(z.read("ppt/presentation.xml")).find(f"{P}sldIdLst")
        ids = [int(s.get("id")) for s in sld_ids]
        assert len(ids) == len(set(ids)) and min(ids) >= 256
        slides = [pres_rels[s.get(R_ID)][1] for s in sld_ids]
        assert slides == [f"ppt/slides/slide{n}.xml" for n in range(1, len(slides) + 1)]
        links = 0
        for slide in slides:
            rels = {kind: [t for k, t in _rels(z, slide).values() if k == kind]
                    for kind in ("slideLayout", "notesSlide")}
            assert len(rels["slideLayout"]) == 1 and len(rels["notesSlide"]) == 1, slide
            notes = rels["notesSlide"][0]
            assert notes in names
            notes_rels = sorted((k, t) for k, t in _rels(z, notes).values() if k != "hyperlink")
            assert notes_rels == [("notesMaster", "ppt/notesMasters/notesMaster1.xml"), ("slide", slide)]
            layout_ph = {(ph.get("type", "obj"), ph.get("idx", "0"))
                         for ph in ET.fromstring(z.read(rels["slideLayout"][0])).iter(f"{P}ph")}
            root = ET.fromstring(z.read(slide))
            for ph in root.iter(f"{P}ph"):
                assert (ph.get("type", "obj"), ph.get("idx", "0")) in layout_ph, (slide, ph.attrib)
            shape_ids = [c.get("id") for c in root.iter(f"{P}cNvPr")]
            assert len(shape_ids) == len(set(shape_ids)), slide
            for part in (slide, notes):
                part_rels = _rels(z, part)
                for link in ET.fromstring(z.read(part)).iter(f"{A}hlinkClick"):
                    assert part_rels[link.get(R_ID)][0] == "hyperlink" and "://" in part_rels[link.get(R_ID)][1]
                    links += 1
            notes_root = ET.fromstring(z.read(notes))
            assert [ph.get("type") for ph in notes_root.iter(f"{P}ph")] == ["sldImg", "body", "sldNum"], notes
        assert links > 0  # the endnotes link their sources


def test_footer_left_and_slide_number_right(deck):
    for n, slide in enumerate(list(deck.slides)[1:], 2):
        shapes = {sh.name: sh for sh in slide.shapes}
        if "Slide number" not in shapes:
            continue
        number = shapes["Slide number"].text_frame.paragraphs[0]
        assert number.text == str(n) and number.alignment == PP_ALIGN.RIGHT
        assert shapes["Footer"].text_frame.paragraphs[0].alignment == PP_ALIGN.LEFT


def test_decorations_are_marked_decorative_and_read_last(deck):
    """Screen readers skip decorative shapes and read the others in tree order: title first, furniture last."""
    decorative = "{http://schemas.microsoft.com/office/drawing/2017/decorative}decorative"
    marked = 0
    for slide in deck.slides:
        names = [sh.name for sh in slide.shapes]
        for sh in slide.shapes:
            flag = sh._element.find(".//" + decorative)
            assert (flag is not None and flag.get("val") == "1") == sh.name.startswith("Decoration"), sh.name
            marked += flag is not None
        assert slide.shapes[0] == slide.shapes.title
        if "Footer" in names:
            assert names[-2:] == ["Footer", "Slide number"]
    assert marked > len(deck.slides)


def test_no_slide_is_empty(deck):
    for n, slide in enumerate(deck.slides, 1):
        assert slide.shapes.title.text_frame.text.strip(), n
        if slide.slide_layout.name in ("Title and Content", "Title Only"):
            assert _body_paragraphs(slide) or any(sh.shape_type == 13 for sh in slide.shapes), n


def test_ooxml_integrity_finds_no_overflow(built, tmp_path):
    """An independent checker of text against its box. It measures with the fonts it finds, so it
    is shown the metric clones of Calibri and Cambria that briefkit ships, as a reader's machine
    with Office (or with LibreOffice and these fonts) has them, whatever this machine has."""
    home = tmp_path / "home"
    for fonts in (home / ".fonts", home / ".local" / "share" / "fonts"):
        shutil.copytree(Path(briefkit.__file__).parent / "defaults" / "fonts", fonts)
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"),
               XDG_CACHE_HOME=str(home / ".cache"))
    run = subprocess.run([sys.executable, "-m", "ooxml_integrity", "check", "--json", "--no-config", str(built / "deck.pptx")],
                         capture_output=True, text=True, env=env)
    report = json.loads(run.stdout)
    findings = [f for file in report["files"] for f in file["findings"]] if "files" in report else report["findings"]
    bad = [f for f in findings if f["code"] in ("PPT000", "PPT001", "PPT002", "PPT004", "PPT005")
           or f.get("severity", "").lower() == "error"]
    assert bad == [], bad


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
    assert "Water: key recommendations (cont.)" in titles and "Water: the context (cont.)" not in titles
    context = prs.slides[titles.index("Water: the context")]
    assert _body_paragraphs(context) == ["A very long summary."]  # its lead; the rest is for the notes
    assert "Shared rivers and aquifers need joint management." in context.notes_slide.notes_text_frame.text
    detail = prs.slides[titles.index("Water: recommendations in detail")]  # a plain part leads with its first sentence
    assert _body_paragraphs(detail) == ["More text."]
    assert assert_within_budget(prs) > 15
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

    Presentation().save(str(templates / "reference.pptx"))  # python-pptx's own: 4:3
    assert main(["build", "--templates", str(templates), "--content", str(CONTENT), "--out", str(out), "--format", "pptx", "-q"]) == 1
    assert capsys.readouterr().err.strip() == (f"{templates}/reference.pptx: error: the reference deck's slides are 10 × 7.5 in; "
                                               "the deck is laid out for 16:9 slides of 13.333 × 7.5 in")


@needs_libreoffice
def test_libreoffice_opens_the_deck(built, tmp_path):
    reader = libreoffice_pdf(built / "deck.pptx", tmp_path)
    assert len(reader.pages) == len(Presentation(str(built / "deck.pptx")).slides)
    assert "key recommendations" in reader.pages[5].extract_text()


def _front_matter(path: Path, extra: str) -> None:
    """Add front-matter lines to a content file, after its 'kind:' line."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\n", "\n" + extra + "\n", 2).replace("\n" + extra + "\n", "\n", 1), encoding="utf-8")


def test_author_writes_the_slide_with_deck_front_matter(content_copy, tmp_path):
    _front_matter(content_copy / "trade.md", "deck:\n  headline: Mexico is our largest trading partner\n  points:\n"
                  "    - First point, cited.[^gantz2024]\n    - Second point")
    _front_matter(content_copy / "conclusion.md", "deck:\n  headline: What it adds up to")
    out = tmp_path / "out"
    assert main(["build", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out), "--format", "pptx", "-q"]) == 0
    prs = Presentation(str(out / "deck.pptx"))
    titles = _titles(prs)
    assert "Trade: the context" not in titles and "Conclusion" not in titles
    slide = prs.slides[titles.index("Mexico is our largest trading partner")]
    assert _body_paragraphs(slide) == ["First point, cited.iv", "Second point"]
    foot = [sh for sh in slide.shapes if sh.name == "Sources"]
    assert foot and foot[0].text_frame.text.startswith("Sources: iv David A. Gantz")
    conclusion = prs.slides[titles.index("What it adds up to")]  # a headline alone keeps the derived text
    assert _body_paragraphs(conclusion)[0].startswith("The U.S.-Mexico relationship represents far more")


def test_check_validates_deck_front_matter(content_copy, capsys):
    _front_matter(content_copy / "trade.md", "deck:\n  headline: [a list]\n  points: [a, b, c, d, e]\n  colour: red")
    assert main(["check", "--content", str(content_copy), "--templates", str(TEMPLATES)]) == 1
    err = capsys.readouterr().err
    where = f"{content_copy}/trade.md:3: error:"
    assert f"{where} 'deck' has unknown key 'colour' (allowed: headline, points)" in err
    assert f"{where} 'deck.headline' must be text, not a list" in err
    assert f"{where} 'deck.points' has 5 points; a slide takes at most 4" in err


def test_empty_content_gives_no_slide_and_a_warning(content_copy, tmp_path, capsys):
    path = content_copy / "strategic-context.md"
    front = path.read_text(encoding="utf-8").split("---")[1]
    path.write_text(f"---{front}---\n", encoding="utf-8")
    trade = content_copy / "trade.md"
    text = trade.read_text(encoding="utf-8")
    head, tail = text.split("# Recommendations\n", 1)
    trade.write_text(head + "# Recommendations\n\n" + "\n".join(l for l in tail.splitlines() if l.startswith("[^")) + "\n",
                     encoding="utf-8")
    assert main(["check", "--content", str(content_copy), "--templates", str(TEMPLATES)]) == 0
    err = capsys.readouterr().err.splitlines()
    line = head.count("\n") + 1
    warned = {w.split(": warning: ")[0]: w for w in err}
    for where, what in ((f"{content_copy}/strategic-context.md:{front.count(chr(10)) + 2}", "no text after the front matter"),
                        (f"{content_copy}/trade.md:{line}", "no '# Recommendations' text")):
        assert warned[where].startswith(f"{where}: warning: {what} here, which ") and "deck.md.j2" in warned[where], err
    out = tmp_path / "out"
    assert main(["build", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out), "--format", "pptx", "-q"]) == 0
    prs = Presentation(str(out / "deck.pptx"))
    titles = _titles(prs)
    assert "Strategic Context" not in titles and "Trade: recommendations in detail" not in titles
    assert assert_within_budget(prs) > 10


PLAIN = Path(__file__).parent / "fixtures" / "plain-pillars"


@pytest.fixture(scope="module")
def plain_deck(tmp_path_factory):
    """A briefing written plainly: recommendations as paragraphs and a list, a pillar of analysis
    only, six key recommendations that do not fit one slide."""
    out = tmp_path_factory.mktemp("plain")
    assert main(["build", "--content", str(PLAIN), "--templates", str(TEMPLATES), "--out", str(out), "--format", "pptx", "-q"]) == 0
    return Presentation(str(out / "deck.pptx"))


def test_plain_recommendations_lead_in_with_their_first_sentences(plain_deck):
    titles = _titles(plain_deck)
    assert titles[titles.index("Policy Recommendations") + 1] == "Water: recommendations in detail"
    slide = plain_deck.slides[titles.index("Water: recommendations in detail")]
    assert _body_paragraphs(slide) == ["Renew the delivery schedule before the next cycle.",
                                       "Measure groundwater on both sides in the same way.",
                                       "Fund joint gauging stations.", "Publish the deliveries each month."]
    notes = slide.notes_slide.notes_text_frame.text  # what each involves: the sentence after it
    assert "A schedule agreed early avoids a shortfall at the end of the cycle." in notes
    assert "Shared data ends disputes about the numbers." in notes
    section = plain_deck.slides[titles.index("Policy Recommendations")].notes_slide.notes_text_frame.text
    assert "Water Sharing on the Rio Grande: 4 recommendations" in section
    # the closing summary has every pillar that asks something, in key recommendations or in detail
    summary = plain_deck.slides[titles.index("Summary of recommendations")]
    assert _body_paragraphs(summary) == ["Water: Water Sharing on the Rio Grande", "Health: Public Health at the Border"]


def test_a_pillar_of_analysis_only_gets_an_analysis_slide(plain_deck):
    titles = _titles(plain_deck)
    assert titles[titles.index("Pillar II: Cross-Border Energy") + 1] == "Energy: the analysis"
    slide = plain_deck.slides[titles.index("Energy: the analysis")]
    assert slide.slide_layout.name == "Title and Content"
    assert _body_paragraphs(slide) == ["The two grids meet at only a handful of points.",  # the lead of each section
                                       "Pipelines carry most of the gas that Mexico burns for power.",
                                       "Each new line needs two sets of permits."]
    notes = slide.notes_slide.notes_text_frame.text  # the rest of the text
    for sentence in ("Power cannot move where it is needed in a heat wave.", "The gain is largest in summer evenings.",
                     "A cut in supply would darken cities on both sides within days.", "Aligning the reviews would halve the time."):
        assert sentence in notes
    assert assert_within_budget(plain_deck) >= 5
    assert_nothing_overflows(plain_deck)


def test_every_pillar_shows_more_than_its_divider(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(PLAIN, content)
    _front_matter(content / "energy.md", "deck:\n  points:\n    - Few links between the grids\n    - Gas comes by pipeline")
    write(content, "air.md", "---\nkind: pillar\norder: 4\ntitle: Clean Air\nshort_title: Air\n---\n"
                             "# Recommendations\n\nMeasure the air at every crossing.\n")
    out = tmp_path / "out"
    assert main(["build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(out), "--format", "pptx", "-q"]) == 0
    prs = Presentation(str(out / "deck.pptx"))
    titles = _titles(prs)
    energy = prs.slides[titles.index("Pillar II: Cross-Border Energy") + 1]  # the author's points, where written
    assert _body_paragraphs(energy) == ["Few links between the grids", "Gas comes by pipeline"]
    # a pillar with nothing to show in its own section has no divider; its recommendations follow the others
    assert not [t for t in titles if t.startswith("Pillar IV")]
    assert titles[titles.index("Water: recommendations in detail") + 1] == "Air: recommendations in detail"
    kinds = [s.slide_layout.name for s in prs.slides]
    for n, kind in enumerate(kinds[:-1]):
        assert not (kind == "Section Header" and kinds[n + 1] == "Section Header"), titles[n]
    assert kinds[-1] != "Section Header"


def _continued(prs, title: str) -> list[int]:
    """How many paragraphs each slide of a continued list shows."""
    return [len(_body_paragraphs(s)) for s, t in zip(prs.slides, _titles(prs)) if t in (title, f"{title} (cont.)")]


def test_continued_lists_are_spread_evenly(plain_deck, deck, tmp_path):
    assert _continued(plain_deck, "Health: key recommendations") == [3, 3]  # 5 + 1 by the word budget
    assert _continued(deck, "Trade: key recommendations") == [3, 3]
    # a group's heading opens the slide its items start on, when that is as few slides
    titles = _titles(deck)
    security = deck.slides[titles.index("Security: recommendations in detail (cont.)")]
    assert _body_paragraphs(security)[0] == "Weapons and Drug Trafficking Enforcement"
    # six and nine items at four a slide: 3 + 3 and 3 + 3 + 3
    templates, content = tmp_path / "templates", tmp_path / "content"
    shutil.copytree(TEMPLATES, templates)
    theme = templates / "theme.yaml"
    theme.write_text(theme.read_text(encoding="utf-8").replace("max_items: 6", "max_items: 4"), encoding="utf-8")
    shutil.copytree(PLAIN, content)
    items = [f"  - Item {n} is short." for n in range(1, 10)]
    for name, count in (("health.md", 6), ("water.md", 9)):
        text = (content / name).read_text(encoding="utf-8")
        (content / name).write_text(re.sub(r"(?m)^recommendations:\n(  - .*\n)+", "", text), encoding="utf-8")
        _front_matter(content / name, "recommendations:\n" + "\n".join(items[:count]))
    out = tmp_path / "out"
    assert main(["build", "--content", str(content), "--templates", str(templates), "--out", str(out), "--format", "pptx", "-q"]) == 0
    prs = Presentation(str(out / "deck.pptx"))
    assert _continued(prs, "Health: key recommendations") == [3, 3]
    assert _continued(prs, "Water: key recommendations") == [3, 3, 3]
    assert_nothing_overflows(prs)


def test_a_slide_citing_very_many_notes_keeps_its_body(content_copy, tmp_path):
    """Forty sources do not fit a slide's foot: it gives their numbers, or the first of them."""
    cites = "".join(f"[^many{i}]" for i in range(40))
    notes = "\n\n".join(f"[^many{i}]: Author {i}, " + "A Long Title of a Report on Shared Water " * 3 for i in range(40))
    _front_matter(content_copy / "trade.md", f"deck:\n  headline: Many sources\n  points:\n    - 'One point.{cites}'")
    path = content_copy / "trade.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + notes + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["build", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out), "--format", "pptx", "-q"]) == 0
    prs = Presentation(str(out / "deck.pptx"))
    slide = prs.slides[_titles(prs).index("Many sources")]
    foot = [sh for sh in slide.shapes if sh.name == "Sources"][0]
    assert re.fullmatch(r"Sources: [ivxlc]+(, [ivxlc]+)+(, …)?", foot.text_frame.text), foot.text_frame.text
    body = [sh for sh in slide.shapes if sh.has_text_frame and "One point." in sh.text_frame.text][0]
    assert body.height > 2 * foot.height
    assert_nothing_overflows(prs)


def _with_url(node, old: str, new: str):
    """`node` with each link to `old` linking to `new` instead."""
    from dataclasses import fields, is_dataclass, replace

    from briefkit.model import Link

    if isinstance(node, Link) and node.url == old:
        return replace(node, url=new)
    if isinstance(node, tuple):
        return tuple(_with_url(n, old, new) for n in node)
    if is_dataclass(node):
        return replace(node, **{f.name: _with_url(getattr(node, f.name), old, new) for f in fields(node) if f.init})
    return node


def test_a_deck_rendered_after_others_is_the_bytes_of_a_first_render(monkeypatch, tmp_path):
    """A process keeps the slides, relationships and content types it wrote: a deck whose link,
    number of slides (the endnotes' slides numbered otherwise) or short title differs is the bytes
    it has when rendered first; a slide written again relates its links in the same order, and a
    picture's slide is made again with its picture."""
    from dataclasses import replace

    from PIL import Image as PILImage

    from briefkit.model import Image, Link, Paragraph, Text
    from briefkit.render import deck_pptx
    from briefkit.templates import Templates
    from briefkit.theme import load_theme
    from conftest import every_node_document

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    theme = load_theme(Templates.of(TEMPLATES))
    doc = every_node_document()
    docs = [doc, replace(doc, endnotes=_with_url(doc.endnotes, "https://example.org/alpha", "https://example.org/omega")),
            replace(doc, blocks=doc.blocks[:2]), replace(doc, meta=replace(doc.meta, short_title="Other"))]
    links = (Text("See "), Link((Text("one"),), "https://one.example/"), Text(" and "), Link((Text("two"),), "https://two.example/"))
    docs.append(replace(doc, blocks=doc.blocks + (Paragraph(links),)))
    PILImage.new("RGB", (40, 30), "teal").save(tmp_path / "picture.png")
    docs.append(replace(doc, blocks=doc.blocks + (Image(str(tmp_path / "picture.png"), "A teal box"),)))

    def first(d) -> bytes:
        deck_pptx._PACKAGE_XML.clear()
        deck_pptx._PROTOTYPES.clear()
        return deck_pptx.render_deck(d, theme)

    firsts = [first(d) for d in docs]
    assert len(set(firsts)) == len(docs)
    with zipfile.ZipFile(io.BytesIO(firsts[4])) as z:  # a slide with two links
        assert any(n.endswith(".rels") and z.read(n).count(b'TargetMode="External"') == 2 for n in z.namelist())
    for i in [0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0]:
        assert deck_pptx.render_deck(docs[i], theme) == firsts[i], i


def test_relationships_kept_by_what_they_list_are_relative_to_their_source():
    """The same relationship from parts in two folders has two targets, each as python-pptx writes it."""
    from pptx.opc.constants import CONTENT_TYPE as CT, RELATIONSHIP_TYPE as RT
    from pptx.opc.package import Part, _Relationships
    from pptx.opc.packuri import PackURI

    from briefkit.render.deck_pptx import _rels_xml

    target = Part(PackURI("/ppt/slides/slide1.xml"), CT.PML_SLIDE, None, b"")
    for source in (PackURI("/ppt/presentation.xml"), PackURI("/ppt/slides/slide2.xml")):
        rels = _Relationships(source.baseURI)
        rels.get_or_add(RT.SLIDE, target)
        assert _rels_xml(source, rels) == rels.xml


def test_a_plan_made_after_others_is_the_plan_made_first(tmp_path):
    """A process keeps each section's slides, by the section, theme, fonts, note style and endnotes:
    a deck differing in any of them is planned as if it were the first."""
    from dataclasses import replace

    from briefkit.model import Paragraph, Text
    from briefkit.render import deck_plan
    from briefkit.templates import Templates
    from briefkit.theme import load_theme
    from conftest import every_node_document

    other = tmp_path / "other"  # the same fonts, another label
    other.mkdir()
    (other / "theme.yaml").write_text((TEMPLATES / "theme.yaml").read_text().replace("sources: Sources", "sources: Quellen"))
    theme = load_theme(Templates.of(TEMPLATES))
    doc = every_node_document()
    alpha = doc.endnotes[0]
    prose = next(b for b in doc.blocks if isinstance(b, Paragraph))
    cases = [(doc, theme), (every_node_document("arabic"), theme), (doc, load_theme(Templates.of(other))),
             (replace(doc, endnotes=(replace(alpha, blocks=(Paragraph((Text("Omega source"),)),)),) + doc.endnotes[1:]), theme),
             (replace(doc, blocks=tuple(Paragraph((Text("Other words."),)) if b is prose else b for b in doc.blocks)), theme)]

    def first(case) -> tuple:
        deck_plan._PLANNED.clear()
        return deck_plan.plan_deck(*case)

    firsts = [first(case) for case in cases]
    assert all(a != b for i, a in enumerate(firsts) for b in firsts[i + 1:])
    for i in [0, 1, 2, 3, 4, 3, 2, 1, 0]:
        assert deck_plan.plan_deck(*cases[i]) == firsts[i], i
