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
