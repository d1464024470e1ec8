"""Fonts, characters, citations and typography, read back from the three deliverables."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pypdf
import pytest

from conftest import CONTENT, TEMPLATES

# Families that ship with Microsoft Office on Windows and Mac (the Latin ones a document names),
# plus Office's own per-script theme fonts, which only its theme files list.
OFFICE_LATIN = {"Calibri", "Calibri Light", "Cambria", "Cambria Math", "Courier New", "Consolas", "Arial",
                "Times New Roman", "Symbol", "Wingdings"}
_NAMED = re.compile(r'(?:w:ascii|w:hAnsi|w:cs|typeface)="([^"+][^"]*)"')


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    from briefkit.cli import main

    out = tmp_path_factory.mktemp("typography")
    assert main(["build", "--content", str(CONTENT), "--templates", str(TEMPLATES), "--out", str(out), "-q"]) == 0
    return out


def _fonts_named(path: Path, parts: re.Pattern) -> set[str]:
    """Every font name in the zip's text-bearing parts (documents, styles, numbering, slides)."""
    with zipfile.ZipFile(path) as z:
        return {name for part in z.namelist() if parts.match(part)
                for name in _NAMED.findall(z.read(part).decode("utf-8"))}


def test_memo_names_only_office_fonts(built):
    fonts = _fonts_named(built / "memo.docx", re.compile(r"word/(document|styles|endnotes|numbering)\.xml$"))
    assert {"Cambria", "Calibri"} <= fonts and fonts <= OFFICE_LATIN, fonts


def test_deck_names_only_office_fonts(built):
    fonts = _fonts_named(built / "deck.pptx", re.compile(r"ppt/(slides|slideLayouts|slideMasters|notesSlides)/[^/]+\.xml$"))
    assert "Calibri" in fonts and fonts <= OFFICE_LATIN, fonts


def test_every_pdf_font_is_an_embedded_clone(built):
    reader = pypdf.PdfReader(built / "brief.pdf")
    fonts = {}
    for page in reader.pages:
        for f in (page["/Resources"].get("/Font") or {}).values():
            f = f.get_object()
            fonts[str(f["/BaseFont"])] = "/FontDescriptor" in f and "/FontFile2" in f["/FontDescriptor"]
    assert fonts and all(fonts.values()), fonts
    families = {name.split("+")[-1].split("-")[0] for name in fonts}
    assert {"Caladea", "Carlito"} <= families and families <= {"Caladea", "Carlito", "LiberationMono"}


@pytest.mark.skipif(not shutil.which("pdffonts"), reason="pdffonts (poppler-utils) is not installed")
def test_pdffonts_reports_every_font_embedded(built):
    rows = subprocess.run(["pdffonts", str(built / "brief.pdf")], capture_output=True, text=True, check=True).stdout
    fonts = rows.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), rows


def test_fonts_and_licences_ship_in_the_package():
    fonts = TEMPLATES / "fonts"
    for family in ("Carlito", "Caladea"):
        for style in ("Regular", "Bold", "Italic", "BoldItalic"):
            assert (fonts / f"{family}-{style}.ttf").stat().st_size > 10_000
        assert "SIL OPEN FONT LICENSE Version 1.1" in (fonts / f"{family}-OFL.txt").read_text()


@pytest.fixture(scope="module")
def adjacent(tmp_path_factory) -> Path:
    """The real content with arabic note numbers and two notes cited together in a pillar summary."""
    from briefkit.cli import main

    root = tmp_path_factory.mktemp("adjacent")
    content = root / "content"
    shutil.copytree(CONTENT, content)
    briefing = content / "briefing.md"
    briefing.write_text(briefing.read_text().replace("endnote_style: lower-roman", "endnote_style: arabic"))
    trade = content / "trade.md"
    text = trade.read_text()
    assert "prosperity and security.\n" in text
    trade.write_text(text.replace("prosperity and security.\n", "prosperity and security.[^berg2021][^dickenson2014]\n", 1))
    assert main(["build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(root / "out"), "-q"]) == 0
    return root / "out"


def _consecutive(first: str, second: str) -> bool:
    return int(second) == int(first) + 1


def test_adjacent_citations_stay_distinct_in_the_brief(adjacent):
    text = "".join(p.extract_text() for p in pypdf.PdfReader(adjacent / "brief.pdf").pages)
    found = re.findall(r"prosperity and security\.(\d+),(\d+)", text)
    assert found and all(_consecutive(a, b) for a, b in found), found


def test_adjacent_citations_stay_distinct_in_the_memo(adjacent):
    with zipfile.ZipFile(adjacent / "memo.docx") as z:
        xml = z.read("word/document.xml").decode()
    i = xml.index("prosperity and security.")
    tail = xml[i:xml.index("</w:p>", i)]
    refs = re.findall(r'<w:endnoteReference w:id="(\d+)"/>', tail)
    assert len(refs) == 2 and _consecutive(*refs)
    between = tail[tail.index("endnoteReference"):tail.rindex("endnoteReference")]
    assert re.search(r'<w:rStyle w:val="EndnoteReference"/></w:rPr><w:t>,</w:t>', between), between


def test_adjacent_citations_stay_distinct_in_the_deck(adjacent):
    from pptx import Presentation

    for slide in Presentation(str(adjacent / "deck.pptx")).slides:
        for shape in slide.shapes:
            for para in shape.text_frame.paragraphs if shape.has_text_frame else ():
                runs = para.runs
                texts = [r.text for r in runs]
                if any("prosperity and security." in t for t in texts):
                    sup = [r.text for r in runs if r._r.rPr is not None and int(r._r.rPr.get("baseline", "0")) > 0]
                    assert len(sup) == 3 and sup[1] == "," and _consecutive(sup[0], sup[2]), sup
                    return
    pytest.fail("the pillar summary is on no slide")
