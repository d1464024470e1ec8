"""Long addresses break only after '/', '-' or '?' or before '&' or '=', and stay inside the margins:
the brief read with pdfplumber, memo and deck read as XML and as LibreOffice lays them out."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pdfplumber
import pytest
from pptx import Presentation

from briefkit.model import (Document, Endnote, Heading, Link, Meta, NoteRef, Paragraph, Text, address_pieces)
from briefkit.render.brief_pdf import render_brief
from briefkit.render.deck_plan import SLIDE_W, body_box
from briefkit.render.deck_pptx import render_deck
from briefkit.render.memo_docx import render_memo
from briefkit.templates import Templates
from briefkit.theme import load_theme
from conftest import TEMPLATES, libreoffice_pdf, needs_libreoffice
from test_deck_pptx import assert_nothing_overflows
from test_pdf_tags import _assert_clean

URL = "https://www.example.org/reports/2025/very-long-path-segment/annex?year=2024&format=pdf"
ZWSP = "\u200b"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


@pytest.fixture(scope="module")
def theme():
    return load_theme(Templates.of(TEMPLATES))


def _document() -> Document:
    """The address in running text and in notes, after lead-ins of many lengths (so it meets the
    margin at many places), and one whose path is a single piece longer than any line."""
    link = Link((Text(URL),), URL)
    lead = "Tariffs rose and trade fell as the report shows "
    body = tuple(Paragraph((Text(lead[:k] + " at "), link, Text(" today."), NoteRef(f"n{k}", k // 5 + 1)))
                 for k in range(0, 50, 5))
    notes = tuple(Endnote(f"n{k}", k // 5 + 1, (Paragraph((Text("Source, " + "Ministry of Trade " * (k // 5)), link,
                                                           Text("."))),)) for k in range(0, 50, 5))
    endless = "https://example.org/" + "x" * 300 + "/end"
    return Document(Meta(title="Addresses", short_title="Addresses", endnote_style="arabic"),
                    (Heading(1, (Text("Trade"),)),) + body + (Paragraph((Link((Text(endless),), endless),)),), notes)


def _allowed(url: str, at: int) -> bool:
    """A line may end before url[at]: after '/' (not between two), '-' or '?', before '&' or '='."""
    return url[at - 1] in "-?" or url[at - 1] == "/" != url[at] or url[at] in "&="


def _breaks(lines: list[str], url: str) -> list[list[int]]:
    """For each time `url` appears in the lines (read in order), where its lines end in it.

    LibreOffice's PDF gives each zero width space as a space in the text: one may stand between
    two characters of the address."""
    text = "\n".join(lines)
    out = []
    for m in re.finditer(" ?\n? ?".join(map(re.escape, url)), text):
        cuts, i = [], 0
        for ch in m.group():
            if ch == "\n":
                cuts.append(i)
            elif ch != " ":
                i += 1
        out.append(cuts)
    return out


def _assert_breaks_allowed(lines: list[str], url: str, occurrences: int) -> None:
    found = _breaks(lines, url)
    assert len(found) == occurrences, (len(found), lines)
    assert sum(1 for cuts in found if cuts) >= occurrences // 2, found  # most meet the margin
    for cuts in found:
        assert all(_allowed(url, at) for at in cuts), [(url[:at][-12:], url[at:][:12]) for at in cuts]


def _pdf_lines(data: bytes) -> tuple[list[str], list[dict]]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        lines = [line for page in pdf.pages for line in (page.extract_text() or "").split("\n")]
        chars = [dict(c, width=page.width, page=page.page_number) for page in pdf.pages for c in page.chars]
    return lines, chars


def test_address_pieces_follow_the_rule():
    pieces = address_pieces(Link((Text(URL),), URL))
    assert pieces == ("https://www.example.org/", "reports/", "2025/", "very-", "long-", "path-", "segment/",
                      "annex?", "year", "=2024", "&format", "=pdf")
    shown = "www.example.org/a//b/c-d?e=f&g=h"  # shown without its scheme: still its address
    assert address_pieces(Link((Text(shown),), "https://" + shown)) == ("www.example.org/", "a//", "b/", "c-", "d?",
                                                                         "e", "=f", "&g", "=h")
    assert address_pieces(Link((Text("the annual report of the ministry"),), URL)) == ()  # not an address
    assert address_pieces(Link((Text("https://example.org/a?b=1&c=2"),), "https://example.org/a?b=1&c=2")) == ()


def test_brief_breaks_addresses_only_at_allowed_points(theme, tmp_path):
    data = render_brief(_document(), theme)
    lines, chars = _pdf_lines(data)
    _assert_breaks_allowed(lines, URL, 20)
    assert not any(ZWSP in line for line in lines)  # the break mark is never drawn
    left, right = theme.page.margin_left * 72, theme.page.margin_right * 72
    for c in chars:
        assert c["x0"] >= left - 1 and c["x1"] <= c["width"] - right + 1, c["text"]
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        uris = [link["uri"] for page in pdf.pages for link in page.hyperlinks]
    assert uris.count(URL) >= 20 and all(u in (URL, "https://example.org/" + "x" * 300 + "/end") for u in uris)
    path = tmp_path / "brief.pdf"
    path.write_bytes(data)
    _assert_clean(path)  # still PDF/UA: the tagged text of each line is what is drawn


def test_brief_breaks_a_piece_longer_than_a_line_before_a_percent(theme):
    """'#:~:text=...' with escaped spaces: one piece wider than a line; '%20' is never cut."""
    url = "https://www.example.org/report#:~:text=" + "%20".join(["Mexico's", "top", "general"] * 12)
    link = Link((Text(url),), url)
    doc = Document(Meta(title="Addresses", short_title="Addresses", endnote_style="arabic"),
                   (Paragraph((Text("Cited."), NoteRef("n", 1))),),
                   (Endnote("n", 1, (Paragraph((Text("Source, "), link, Text("."))),)),))
    lines, _ = _pdf_lines(render_brief(doc, theme))
    (cuts,) = _breaks(lines, url)
    assert len(cuts) >= 2 and all(_allowed(url, at) or url[at] == "%" for at in cuts), [url[at - 5:at + 5] for at in cuts]


def test_memo_shows_break_opportunities_and_links_the_exact_address(theme, tmp_path):
    path = tmp_path / "memo.docx"
    path.write_bytes(render_memo(_document(), theme))
    shown = []
    with zipfile.ZipFile(path) as z:
        for part in ("word/document.xml", "word/endnotes.xml"):
            from xml.etree import ElementTree as ET

            rels = ET.fromstring(z.read(part.replace("word/", "word/_rels/") + ".rels"))
            targets = {r.get("Id"): r.get("Target") for r in rels}
            for link in ET.fromstring(z.read(part)).iter(W + "hyperlink"):
                if targets.get(link.get(R + "id")) == URL:
                    shown.append("".join(t.text or "" for t in link.iter(W + "t")))
    assert len(shown) == 20
    for text in shown:
        assert text.replace(ZWSP, "") == URL
        assert text.split(ZWSP) == list(address_pieces(Link((Text(URL),), URL)))


@needs_libreoffice
def test_memo_as_libreoffice_lays_it_out(theme, tmp_path):
    path = tmp_path / "memo.docx"
    path.write_bytes(render_memo(_document(), theme))
    libreoffice_pdf(path, tmp_path)
    lines, chars = _pdf_lines((tmp_path / "memo.pdf").read_bytes())
    _assert_breaks_allowed(lines, URL, 20)
    # LibreOffice sets Word's endnotes on a page of its own default style, 2 cm margins each side
    left, right = theme.page.margin_left * 72, theme.page.margin_right * 72
    for page in {c["page"] for c in chars}:
        ink = [c for c in chars if c["page"] == page and c["text"].strip()]
        margin = right if min(c["x0"] for c in ink) >= left - 1 else 2 / 2.54 * 72
        assert all(c["x1"] <= c["width"] - margin + 1 for c in ink), page


def test_deck_endnote_slides_carry_the_break_opportunities(theme):
    prs = Presentation(io.BytesIO(render_deck(_document(), theme)))
    shown = []
    for p in (p for s in prs.slides for sh in s.shapes if sh.has_text_frame for p in sh.text_frame.paragraphs):
        text = "".join(r.text if r.hyperlink.address == URL or r.text == ZWSP else "|" for r in p.runs)
        shown += [t for t in text.split("|") if URL in t.replace(ZWSP, "")]
    assert len(shown) >= 10  # every note, and the body text shown on slides
    assert all(t.split(ZWSP) == list(address_pieces(Link((Text(URL),), URL))) for t in shown), shown
    assert_nothing_overflows(prs)


@needs_libreoffice
def test_deck_as_libreoffice_lays_it_out(theme, tmp_path):
    path = tmp_path / "deck.pptx"
    path.write_bytes(render_deck(_document(), theme))
    libreoffice_pdf(path, tmp_path)
    lines, chars = _pdf_lines((tmp_path / "deck.pdf").read_bytes())
    shown = len(_breaks(lines, URL))
    assert shown >= 10
    _assert_breaks_allowed(lines, URL, shown)
    box = body_box()
    for c in chars:
        if c["text"].strip():
            assert c["x1"] <= (box.left + box.width) * c["width"] / SLIDE_W + 1, c["text"]
