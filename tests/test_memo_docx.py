"""The Word memo, read back with zipfile + ElementTree and python-docx."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn

from briefkit.templates import Templates
from briefkit.render.memo_docx import render_memo
from briefkit.theme import load_theme
from conftest import (TEMPLATES, coverage, docx_endnotes, docx_paragraphs, every_node_document, libreoffice_pdf,
                      needs_libreoffice, seed_text)

def _render(tmp_path: Path, style: str = "lower-roman") -> Path:
    path = tmp_path / "memo.docx"
    path.write_bytes(render_memo(every_node_document(style), load_theme(Templates.of(TEMPLATES))))
    return path


def test_headings_use_word_heading_styles_in_order(tmp_path):
    path = _render(tmp_path)
    headings = [(s, t) for s, t in docx_paragraphs(path) if s.startswith("Heading")]
    assert headings == [("Heading1", "Section One"), ("Heading2", "Sub Section"), ("Heading3", "Third Level"),
                        ("Heading1", "Endnotes")]


def test_heading_levels_never_skip_one(tmp_path):
    """A heading two levels below the last one is set one below it, as screen readers expect."""
    from dataclasses import replace

    from briefkit.model import Heading, Text

    doc = every_node_document("lower-roman")
    doc = replace(doc, blocks=(Heading(1, (Text("Top"),)), Heading(3, (Text("Skipped to three"),))) + doc.blocks)
    path = tmp_path / "memo.docx"
    path.write_bytes(render_memo(doc, load_theme(Templates.of(TEMPLATES))))
    headings = [(s, t) for s, t in docx_paragraphs(path) if s.startswith("Heading")]
    assert headings[:2] == [("Heading1", "Top"), ("Heading2", "Skipped to three")]
    levels = [int(s[len("Heading"):]) for s, _ in headings]
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:]))


def test_figure_cards_carry_alt_text(tmp_path):
    with zipfile.ZipFile(_render(tmp_path)) as z:
        xml = z.read("word/document.xml").decode()
    assert '<w:tblCaption w:val="$1bn: invested"/>' in xml and '<w:tblDescription w:val="$1bn: invested"/>' in xml


def test_inline_formatting_and_literal_markup(tmp_path):
    d = docx.Document(str(_render(tmp_path)))
    para = next(p for p in d.paragraphs if p.text.startswith("Plain"))
    runs = {r.text: r for r in para.runs}
    assert runs["emphasis"].italic and runs["strong"].bold
    assert "<b>{{ literal }}</b> & more" in para.text
    with zipfile.ZipFile(tmp_path / "memo.docx") as z:
        xml = z.read("word/document.xml").decode()
        rels = z.read("word/_rels/document.xml.rels").decode()
    assert "<w:hyperlink" in xml and 'Target="https://example.org/"' in rels


def test_native_endnotes_numbered_lower_roman(tmp_path):
    path = _render(tmp_path)
    with zipfile.ZipFile(path) as z:
        doc = z.read("word/document.xml").decode()
        settings = z.read("word/settings.xml").decode()
        types = z.read("[Content_Types].xml").decode()
        note_rels = z.read("word/_rels/endnotes.xml.rels").decode()
    assert 'w:numFmt w:val="lowerRoman"' in doc and 'w:numFmt w:val="lowerRoman"' in settings
    assert "endnotes+xml" in types
    # first citations are native references; the repeated citation is a NOTEREF field
    assert doc.count("<w:endnoteReference") == 2
    assert "NOTEREF _RefNote1" in doc
    assert docx_endnotes(path) == {1: "Alpha source, example.org/alpha", 2: "Beta source."}
    assert "https://example.org/alpha" in note_rels


def test_arabic_endnotes_option(tmp_path):
    with zipfile.ZipFile(_render(tmp_path, "arabic")) as z:
        assert 'w:numFmt w:val="decimal"' in z.read("word/document.xml").decode()


def test_lists_tables_callouts_and_figures(tmp_path):
    d = docx.Document(str(_render(tmp_path)))
    styles = {p.text: p.style.name for p in d.paragraphs}
    assert styles["bullet one"] == "List Bullet" and styles["nested bullet"] == "List Bullet 2"
    assert styles["first step"] == "List Number"
    tables = d.tables
    grid = [[c.text for c in row.cells] for row in tables[0].rows]
    assert grid == [["Name", "Value"], ["rows", "2"], ["cols", "2"]]
    callout = tables[1].rows[0].cells[0]
    assert [p.text for p in callout.paragraphs if p.text] == ["Key Recommendations:", "Do the first thing.", "Do the second thing."]
    assert [p.text for p in tables[2].rows[0].cells[0].paragraphs] == ["$1bn", "invested", "in 2024"]


def test_core_properties_and_footer(tmp_path):
    d = docx.Document(str(_render(tmp_path)))
    cp = d.core_properties
    assert (cp.title, cp.author, cp.subject, cp.keywords) == ("Every Node", "A. Author; B. Author", "Testing", "one, two")
    footer_xml = d.sections[0].footer._element.xml
    assert "PAGE" in footer_xml and "NUMPAGES" in footer_xml
    assert d.sections[0].different_first_page_header_footer


def test_reference_docx_supplies_styles(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    ref = docx.Document()
    ref.styles["Heading 1"].font.name = "Reference Sans"
    ref.save(str(templates / "reference.docx"))
    data = render_memo(every_node_document(), load_theme(Templates.of(templates)))
    (tmp_path / "m.docx").write_bytes(data)
    assert docx.Document(str(tmp_path / "m.docx")).paragraphs[-1].text == "Endnotes"


# The real briefing -------------------------------------------------------------


def test_memo_carries_the_whole_seed_text(built):
    body = " ".join(t for _, t in docx_paragraphs(built / "memo.docx"))
    notes = " ".join(docx_endnotes(built / "memo.docx").values())
    assert coverage(seed_text(), body + " " + notes) >= 0.98


def test_memo_has_26_endnotes_in_seed_order(built):
    notes = docx_endnotes(built / "memo.docx")
    assert list(notes) == list(range(1, 27))
    assert notes[1].startswith("Garrison, Cassandra") and notes[26].startswith("United States Department of Justice")
    assert notes[10].startswith("Berg, Ryan C.") and notes[11].startswith("Dickenson, Matthew")
    assert notes[21].startswith("Salvador Rivera")
    with zipfile.ZipFile(built / "memo.docx") as z:
        doc = z.read("word/document.xml").decode()
    ids = [int(x.split('"')[1]) for x in doc.split("<w:endnoteReference w:id=")[1:]]
    assert ids == list(range(1, 27))  # Word numbers by position: ids in text order are 1..26


def test_memo_outline(built):
    headings = [t for s, t in docx_paragraphs(built / "memo.docx") if s == "Heading1"]
    assert headings == ["Executive Summary", "Introduction", "Trade Policy and USMCA", "Migration", "Security",
                        "Policy Recommendations", "Conclusion", "Endnotes"]


@needs_libreoffice
def test_libreoffice_opens_the_memo(built, tmp_path):
    reader = libreoffice_pdf(built / "memo.docx", tmp_path)
    text = " ".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) > 10
    assert "Garrison, Cassandra" in text and "Justice Department announces" in text
    assert coverage(seed_text(), text) >= 0.90  # page furniture and note marks interleave


@pytest.mark.skipif(not shutil.which("pandoc"), reason="Pandoc is not installed")
def test_pandoc_reads_all_26_endnotes(built):
    out = subprocess.run(["pandoc", "-f", "docx", "-t", "native", str(built / "memo.docx")],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    assert out.count("Note\n") + out.count("Note [") >= 26
    md = subprocess.run(["pandoc", "-f", "docx", "-t", "markdown", str(built / "memo.docx")],
                        check=True, capture_output=True, text=True, timeout=120).stdout
    assert "[^26]:" in md and "[^27]" not in md


def test_a_memo_rendered_after_others_is_the_bytes_of_a_first_render(tmp_path, monkeypatch):
    """A process keeps the styles part a memo wrote, by reference document, theme, language and
    contents page; a memo differing in any of them is the bytes it has when rendered first."""
    from dataclasses import replace

    from briefkit.model import Heading
    from briefkit.render import memo_docx

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    other = tmp_path / "other"
    shutil.copytree(TEMPLATES, other)
    theme_file = other / "theme.yaml"
    theme_file.write_text(theme_file.read_text().replace('primary: "0B3C5D"', 'primary: "224466"').replace("name: Calibri", "name: Arial"))
    with_reference = tmp_path / "with_reference"
    shutil.copytree(TEMPLATES, with_reference)
    ref = docx.Document()
    ref.styles["Caption"].font.name = "Reference Sans"  # a style the theme leaves as it is
    ref.save(str(with_reference / "reference.docx"))
    doc = every_node_document()
    theme = load_theme(Templates.of(TEMPLATES))
    cases = {"base": (doc, theme),
             "no headings": (replace(doc, blocks=tuple(b for b in doc.blocks if not isinstance(b, Heading))), theme),
             "French": (replace(doc, meta=replace(doc.meta, language="fr-FR")), theme),
             "other theme": (doc, load_theme(Templates.of(other))),
             "reference": (doc, load_theme(Templates.of(with_reference)))}

    def first(case: str) -> bytes:
        memo_docx._STYLES.clear()
        memo_docx._READERS.clear()
        return render_memo(*cases[case])

    firsts = {case: first(case) for case in cases}
    assert len(set(firsts.values())) == len(cases)
    for case in [*cases, *reversed(cases)]:
        assert render_memo(*cases[case]) == firsts[case], case
    assert render_memo(*cases["reference"]) == firsts["reference"]
    ref.styles["Caption"].font.name = "Another Sans"  # the reference document changed on disk
    ref.save(str(with_reference / "reference.docx"))
    changed = render_memo(*cases["reference"])
    assert changed == first("reference") != firsts["reference"]


def test_a_style_that_is_its_types_default_is_applied_as_python_docx_applies_it(tmp_path):
    """With Title the reference's default paragraph style, the title paragraph names no style, as
    python-docx's add_paragraph leaves it."""
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    ref = docx.Document()
    for style in ref.styles.element.findall(qn("w:style")):
        if style.get(qn("w:type")) == "paragraph":
            style.set(qn("w:default"), "1" if style.get(qn("w:styleId")) == "Title" else "0")
    ref.save(str(templates / "reference.docx"))
    expected = docx.Document(str(templates / "reference.docx")).add_paragraph("Every Node", style="Title")._p
    (tmp_path / "m.docx").write_bytes(render_memo(every_node_document(), load_theme(Templates.of(templates))))
    title = next(p for p in docx.Document(str(tmp_path / "m.docx")).paragraphs if p.text == "Every Node")
    assert expected.pPr is not None and expected.pPr.pStyle is None
    assert title._p.pPr.pStyle is None


@pytest.mark.parametrize("children", ["", "<w:jc w:val='left'/><w:spacing w:before='20'/>", "<w:spacing/><w:pStyle w:val='Quote'/>",
                                      "<w:rPr/><w:keepNext w:val='0'/><w:ind/>", "<w:keepLines w:val='0'/><w:pBdr/>",
                                      "<w:ind w:left='1'/><w:jc w:val='left'/><w:ind w:left='2'/>"])
def test_paragraph_properties_are_placed_as_python_docx_places_them(children):
    """Keep-together, keep-with-next and space-after go where python-docx's setters put them, also
    among properties out of the schema's order."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    from docx.shared import Pt
    from docx.text.paragraph import Paragraph

    from briefkit.render.memo_docx import _on_off, _space_after

    for keep_next in (True, False):
        xml = f"<w:p {nsdecls('w')}><w:pPr>{children}</w:pPr><w:r/></w:p>"
        ours, python_docx = parse_xml(xml), parse_xml(xml)
        _on_off(ours, "w:keepLines", True)
        _on_off(ours, "w:keepNext", keep_next)
        _space_after(ours, 2.5)
        pf = Paragraph(python_docx, None).paragraph_format
        pf.keep_together, pf.keep_with_next, pf.space_after = True, keep_next, Pt(2.5)
        assert ours.xml == python_docx.xml
