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
    assert "economic competition. " in text  # the summary's first sentence: the deck's slide shows it
    trade.write_text(text.replace("economic competition. ", "economic competition.[^berg2021][^dickenson2014] ", 1))
    assert main(["build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(root / "out"), "-q"]) == 0
    return root / "out"


def _consecutive(first: str, second: str) -> bool:
    return int(second) == int(first) + 1


def test_adjacent_citations_stay_distinct_in_the_brief(adjacent):
    text = "".join(p.extract_text() for p in pypdf.PdfReader(adjacent / "brief.pdf").pages)
    found = re.findall(r"economic competition\.(\d+),(\d+)", text)
    assert found and all(_consecutive(a, b) for a, b in found), found


def test_adjacent_citations_stay_distinct_in_the_memo(adjacent):
    with zipfile.ZipFile(adjacent / "memo.docx") as z:
        xml = z.read("word/document.xml").decode()
    i = xml.index("economic competition.")
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
                if any("economic competition." in t for t in texts):
                    sup = [r.text for r in runs if r._r.rPr is not None and int(r._r.rPr.get("baseline", "0")) > 0]
                    assert len(sup) == 3 and sup[1] == "," and _consecutive(sup[0], sup[2]), sup
                    return
    pytest.fail("the pillar summary's first sentence is on no slide")


SAMPLE = "Utqiaġvik, Tromsø, Ðakovo, Łódź and Αθήνα"


@pytest.fixture(scope="module")
def letters(tmp_path_factory) -> Path:
    """The real content with letters beyond Latin-1, Greek, straight quotes and a bare URL in a pillar summary."""
    from briefkit.cli import main

    root = tmp_path_factory.mktemp("letters")
    content = root / "content"
    shutil.copytree(CONTENT, content)
    trade = content / "trade.md"
    text = trade.read_text()
    assert "summary: >-\n  The U.S." in text  # opening the summary: the deck's slide shows its first sentence
    trade.write_text(text.replace("summary: >-\n  The U.S.", f"summary: >-\n  {SAMPLE}: \"straight\" and "
                                  "'single' -- see https://example.org/a?b=1&c=2. The U.S.", 1))
    assert main(["build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(root / "out"), "-q"]) == 0
    return root / "out"


EXPECTED = f"{SAMPLE}: \u201cstraight\u201d and \u2018single\u2019 \u2013 see https://example.org/a?b=1&c=2."


def test_letters_and_quotes_round_trip_in_the_memo(letters):
    from docx import Document

    text = "\n".join(p.text for p in Document(str(letters / "memo.docx")).paragraphs)
    assert EXPECTED in text


def test_letters_and_quotes_round_trip_in_the_brief(letters):
    import pdfplumber

    with pdfplumber.open(letters / "brief.pdf") as pdf:
        text = " ".join((p.extract_text() or "") for p in pdf.pages).replace("\n", " ")
        greek = {c["fontname"].split("+")[-1] for p in pdf.pages for c in p.chars if c["text"] in "Αθήν"}
    assert EXPECTED in text
    assert greek and all(f.startswith("Carlito") for f in greek), greek  # Caladea has no Greek: Carlito stands in


def test_letters_and_quotes_round_trip_in_the_deck(letters):
    from pptx import Presentation

    text = "\n".join(p.text for s in Presentation(str(letters / "deck.pptx")).slides for sh in s.shapes
                     if sh.has_text_frame for p in sh.text_frame.paragraphs)
    assert EXPECTED in text.replace("\v", " ").replace("\n", " ")


def test_bare_url_is_a_link_in_every_format(letters):
    import pdfplumber
    from pptx import Presentation

    url = "https://example.org/a?b=1&amp;c=2"
    with zipfile.ZipFile(letters / "memo.docx") as z:
        assert f'Target="{url}"' in z.read("word/_rels/document.xml.rels").decode()
    with pdfplumber.open(letters / "brief.pdf") as pdf:
        assert any(link.get("uri") == "https://example.org/a?b=1&c=2" for p in pdf.pages for link in p.hyperlinks)
    deck = Presentation(str(letters / "deck.pptx"))
    assert any(r.hyperlink.address == "https://example.org/a?b=1&c=2" for s in deck.slides for sh in s.shapes
               if sh.has_text_frame for p in sh.text_frame.paragraphs for r in p.runs)


def test_code_keeps_straight_quotes():
    from briefkit.model import Code, Text
    from briefkit.parsing import Parser

    (para,) = Parser().blocks('Say "yes" and `x = "a" -- b`.')
    assert para.children[0] == Text("Say \u201cyes\u201d and ") and para.children[1] == Code('x = "a" -- b')


def test_a_character_no_font_has_is_a_warning_and_an_error_under_strict(tmp_path, capsys):
    from briefkit.cli import main

    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    intro = content / "introduction.md"
    lines = intro.read_text().split("\n")
    line = next(i for i, text in enumerate(lines) if text.startswith("The relationship")) + 1
    lines[line - 1] += " A unicorn \U0001F984 and ġ."
    intro.write_text("\n".join(lines))
    assert main(["check", "--content", str(content), "--templates", str(TEMPLATES)]) == 0
    err = capsys.readouterr().err
    assert f"{content}/introduction.md:{line}: warning: '\U0001F984' (U+1F984)" in err
    assert "U+0121" not in err  # ġ is in the fonts
    assert main(["check", "--content", str(content), "--templates", str(TEMPLATES), "--strict"]) == 1
    assert f"{content}/introduction.md:{line}: error: '\U0001F984' (U+1F984)" in capsys.readouterr().err


def _brief_lines(path: Path) -> list[list[str]]:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return [(p.extract_text() or "").split("\n") for p in pdf.pages]


def test_brief_body_sets_60_to_75_characters_a_line(built):
    import pdfplumber

    lengths = []
    with pdfplumber.open(built / "brief.pdf") as pdf:
        for page in pdf.pages[2:]:
            words = page.extract_words(extra_attrs=["fontname", "size"])
            lines: dict[float, list] = {}
            for w in words:
                if "Caladea-Regular" in w["fontname"] and w["size"] > 10:
                    lines.setdefault(round(w["top"]), []).append(w["text"])
            lengths += [len(" ".join(ws)) for ws in lines.values()]
    full = sorted(lengths)[len(lengths) // 2:]  # the longer half: lines that are not a paragraph's last
    assert 60 <= full[len(full) // 2] <= 75, full[len(full) // 2]


def test_brief_never_hyphenates_more_than_two_lines_in_a_row(built):
    for lines in _brief_lines(built / "brief.pdf"):
        run = 0
        for line in lines:
            run = run + 1 if re.search(r"\w-$", line) else 0
            assert run <= 2, line


def test_brief_keeps_each_figure_value_on_one_line(built):
    values = [re.sub(r"^['\"]|['\"]$", "", v.strip()) for path in CONTENT.glob("*.md")
              for v in re.findall(r"^\s*- value: (.+)$", path.read_text(), re.M)]
    text = [line for lines in _brief_lines(built / "brief.pdf") for line in lines]
    assert values and all(any(v in line for line in text) for v in values), values


def test_brief_has_no_heading_at_the_foot_of_a_page(built):
    import pdfplumber

    with pdfplumber.open(built / "brief.pdf") as pdf:
        for page in pdf.pages[2:]:  # after cover and contents
            body = [c for c in page.chars if c["top"] < page.height - 0.9 * 72 and c["top"] > 72]
            if not body:
                continue
            last = max(c["top"] for c in body)
            tail = [c for c in body if abs(c["top"] - last) < 2]
            assert not all("Carlito-Bold" in c["fontname"] and c["size"] >= 11 for c in tail), page.page_number


def test_figure_rows_by_count():
    from briefkit.model import figure_rows

    assert [figure_rows(n) for n in range(1, 8)] == [(1,), (2,), (3,), (2, 2), (3, 2), (3, 3), (3, 2, 2)]


def test_memo_contents_lists_every_section_linked_inside_a_toc_field(built):
    from docx import Document

    memo = Document(str(built / "memo.docx"))
    headings = [p.text for p in memo.paragraphs if p.style.name in ("Heading 1", "Heading 2") and p.text != "Endnotes"]
    with zipfile.ZipFile(built / "memo.docx") as z:
        xml = z.read("word/document.xml").decode()
    field = xml[xml.index('TOC \\o "1-2"'):xml.index('w:fldCharType="end"', xml.index('TOC \\o "1-2"'))]
    entries = re.findall(r'<w:hyperlink w:anchor="(_Toc\d+)"[^>]*><w:r><w:t>([^<]*)</w:t>', field)
    assert [title for _, title in entries] == [h.replace("&", "&amp;") for h in headings]
    for anchor, _ in entries:
        assert f'w:name="{anchor}"' in xml


def test_memo_boxes_never_split_and_have_equal_padding(built):
    with zipfile.ZipFile(built / "memo.docx") as z:
        xml = z.read("word/document.xml").decode()
        assert "docProps/thumbnail.jpeg" not in z.namelist()  # the template's was a blank page
    boxes = re.findall(r"<w:tbl>.*?</w:tbl>", xml, re.S)
    shaded = [b for b in boxes if "EEF3F8" in b]
    assert shaded and all("<w:cantSplit/>" in b for b in shaded)
    for box in shaded:
        margins = re.search(r"<w:tcMar>(.*?)</w:tcMar>", box).group(1)
        assert len(set(re.findall(r'w:w="(\d+)"', margins))) == 1, margins


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_libreoffice_shows_the_memo_contents_without_a_refresh_and_whole_figure_values(built, tmp_path):
    from conftest import libreoffice_pdf

    pages = [p.extract_text() for p in libreoffice_pdf(built / "memo.docx", tmp_path).pages]
    contents = next(text for text in pages if "Contents" in text)
    assert "Executive Summary" in contents and "Policy Recommendations" in contents and "Conclusion" in contents
    lines = [line for text in pages for line in text.split("\n")]
    assert any("2008\u20132021" in line for line in lines)  # the widest value of its set, on one line
