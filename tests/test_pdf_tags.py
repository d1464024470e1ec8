"""The tagged brief (PDF/UA-1), read back with pikepdf (structure tree), pdfplumber (marked text) and pdfua."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pdfplumber
import pikepdf
import pytest
from PIL import Image as PILImage

from briefkit.model import (BulletList, Code, Emph, Heading, Image, Link, NoteRef, Paragraph, Strong, Text,
                            note_label, plain_text, walk_blocks)
from briefkit.render.brief_pdf import render_brief
from briefkit.templates import Templates
from briefkit.theme import load_theme
from conftest import TEMPLATES, every_node_document


@pytest.fixture(scope="module")
def theme():
    return load_theme(Templates.of(TEMPLATES))


def _test_briefing(tmp: Path):
    """Every block type, plus an image and a list nested two deep."""
    picture = tmp / "chart.png"
    PILImage.new("RGB", (300, 120), (40, 90, 160)).save(picture)
    doc = every_node_document()
    nested = BulletList(((Paragraph((Text("outer"),)),
                          BulletList(((Paragraph((Text("middle"),)),
                                       BulletList(((Paragraph((Text("inner"),)),),))),))),))
    image = Image(str(picture), "Bar chart: remittances doubled between 2015 and 2024")
    return replace(doc, blocks=doc.blocks + (image, nested))


def _pdfua(path: Path) -> dict:
    run = subprocess.run([sys.executable, "-m", "pdfua", "check", "--format", "json", str(path)],
                         capture_output=True, text=True, timeout=120)
    return json.loads(run.stdout)


def _assert_clean(path: Path) -> None:
    report = _pdfua(path)
    assert report["findings"] == [] and report["skipped"] == [], json.dumps(report["findings"] + report["skipped"])
    assert report["summary"]["rules_run"] >= 12


def test_brief_from_the_content_passes_pdfua(built):
    _assert_clean(built / "brief.pdf")


def test_the_brief_file_reads_cleanly_as_qpdf_and_pypdf_read_it(built):
    """The file as briefkit writes it (object streams, a cross-reference stream): qpdf finds no
    syntax problem, and pypdf in strict mode reads every page's text."""
    import pypdf

    path = built / "brief.pdf"
    with pikepdf.open(path) as pdf:
        assert pdf.check_pdf_syntax() == []
        assert any(obj.get("/Type") == "/ObjStm" for obj in pdf.objects if isinstance(obj, pikepdf.Stream))
        pages = len(pdf.pages)
    reader = pypdf.PdfReader(path, strict=True)
    assert len(reader.pages) == pages > 10
    assert "Executive Summary" in reader.pages[2].extract_text()


def test_briefing_with_table_image_and_nested_lists_passes_pdfua(tmp_path, theme):
    path = tmp_path / "brief.pdf"
    path.write_bytes(render_brief(_test_briefing(tmp_path), theme))
    _assert_clean(path)


class _Tree:
    """The structure tree in reading order: (role, own text, element) with text from marked content."""

    def __init__(self, path: Path) -> None:
        self.pdf = pikepdf.open(path)
        page_of = {p.objgen: i for i, p in enumerate(self.pdf.pages)}
        marked: dict[tuple[int, int], list[str]] = defaultdict(list)
        with pdfplumber.open(path) as plumber:
            for i, page in enumerate(plumber.pages):
                for char in page.chars:
                    if char.get("mcid") is not None:
                        marked[i, char["mcid"]].append(char["text"])
        self.elements: list[tuple[str, str, pikepdf.Object]] = []
        self.links: list[pikepdf.Object] = []  # annotations reached through OBJR, in order

        def walk(elem, page=None):
            page = page_of.get(elem.Pg.objgen) if "/Pg" in elem else page
            kids = elem.get("/K")
            kids = list(kids) if isinstance(kids, pikepdf.Array) else [kids]
            text, children = [], []
            for kid in kids:
                if isinstance(kid, int):
                    text += marked[page, kid]
                elif kid.get("/Type") == "/MCR":
                    text += marked[page_of[kid.Pg.objgen], int(kid.MCID)]
                elif kid.get("/Type") == "/OBJR":
                    self.links.append(kid.Obj)
                else:
                    children.append(kid)
            self.elements.append((str(elem.S)[1:], "".join(text), elem))
            for child in children:
                walk(child, page)

        walk(self.pdf.Root.StructTreeRoot.K)

    def roles(self, *roles: str) -> list[tuple[str, str]]:
        return [(r, t) for r, t, _ in self.elements if r in roles]


def _norm(text: str) -> str:
    """Text without whitespace: characters read from marked content carry no space at line ends."""
    return "".join(text.split())


def _with_labels(inlines) -> str:
    """A model paragraph's text as printed: note markers as their labels, line breaks as nothing."""
    out = []
    for node in inlines:
        match node:
            case Text(text) | Code(text):
                out.append(text)
            case Emph(children) | Strong(children) | Link(children):
                out.append(_with_labels(children))
            case NoteRef(number=n):
                out.append(note_label(n, "lower-roman"))
    return "".join(out)


@pytest.fixture(scope="module")
def seed_tree(built):
    return _Tree(built / "brief.pdf")


def test_seed_headings_follow_the_outline_with_their_levels(built, seed_tree):
    import pypdf

    def flat(items, depth=0):
        for item in items:
            if isinstance(item, list):
                yield from flat(item, depth + 1)
            else:
                yield f"H{depth + 1}", _norm(item.title)

    outline = list(flat(pypdf.PdfReader(built / "brief.pdf").outline))
    headings = [(r, _norm(t)) for r, t in seed_tree.roles("H1", "H2", "H3", "H4", "H5", "H6")]
    assert headings[:2] == [("H1", _norm("Analysis and Recommendations for U.S. Policy Towards Mexico")),
                            ("H1", "Contents")]
    assert headings[2:] == outline and len(outline) > 20


def test_catalog_declares_a_tagged_titled_pdf_ua_document(seed_tree):
    root = seed_tree.pdf.Root
    assert root.MarkInfo.Marked is True and root.ViewerPreferences.DisplayDocTitle is True
    assert str(root.Lang) == "en-US"
    xmp = root.Metadata.read_bytes().decode()
    assert "<pdfuaid:part>1</pdfuaid:part>" in xmp and "U.S. Policy Towards Mexico" in xmp
    assert all(page.Tabs == "/S" and "/StructParents" in page for page in seed_tree.pdf.pages)
    assert root.PageMode == "/UseOutlines" and str(root.Outlines.First.Title)


def test_every_link_annotation_is_described_and_in_the_tree(seed_tree):
    annots = [a for page in seed_tree.pdf.pages for a in page.get("/Annots", [])]
    assert len(annots) > 100
    assert all(str(a.Contents).strip() for a in annots)
    assert {a.objgen for a in annots} == {a.objgen for a in seed_tree.links}
    parents = dict(zip(*[iter(seed_tree.pdf.Root.StructTreeRoot.ParentTree.Nums)] * 2))
    assert all(parents[int(a.StructParent)].S == "/Link" for a in annots)


def test_every_model_heading_and_paragraph_is_tagged_in_order(tmp_path, theme):
    doc = _test_briefing(tmp_path)
    path = tmp_path / "brief.pdf"
    path.write_bytes(render_brief(doc, theme))
    tree = _Tree(path)
    top = [b for b in doc.blocks if isinstance(b, Heading)]
    headings = [(r, _norm(t)) for r, t in tree.roles("H1", "H2", "H3")]
    # cover title, contents, the document's headings in order, endnotes
    assert headings == ([("H1", "EveryNode"), ("H1", "Contents")]
                        + [(f"H{h.level}", _norm(plain_text(h.children))) for h in top] + [("H1", "Endnotes")])
    paragraphs = [_norm(t) for _, t in tree.roles("P")]
    for block in walk_blocks(doc.blocks):
        if isinstance(block, Paragraph):  # each paragraph is one P, whole
            assert _norm(_with_labels(block.children)) in paragraphs, block
    heads = tree.roles("TH")
    assert [_norm(t) for _, t in heads] == ["Name", "Value"]
    assert all(e.A.Scope == "/Column" for r, _, e in tree.elements if r == "TH")
    assert [_norm(t) for _, t in tree.roles("TD")] == ["rows", "2", "cols", "2"]
    figures = [e for r, _, e in tree.elements if r == "Figure"]
    assert [str(f.Alt) for f in figures] == ["Bar chart: remittances doubled between 2015 and 2024"]
    roles = [r for r, _, _ in tree.elements]
    assert roles.count("L") >= 5 and roles.count("BlockQuote") == 1
    labels = [_norm(t) for _, t in tree.roles("Lbl")]
    assert labels[:2] == ["•", "•"] and "3" in labels and "4" in labels
    # the innermost item of the nested list: P in LBody in LI in L, three lists deep
    inner = next(e for r, t, e in tree.elements if r == "P" and t == "inner")
    chain = []
    while "/P" in inner and inner.P.get("/Type") != "/StructTreeRoot":
        inner = inner.P
        chain.append(str(inner.S)[1:])
    assert chain == ["LBody", "LI", "L"] * 3 + ["Document"]


def test_notes_and_their_references(tmp_path, theme):
    doc = every_node_document()
    path = tmp_path / "brief.pdf"
    path.write_bytes(render_brief(doc, theme))
    tree = _Tree(path)
    notes = [e for r, _, e in tree.elements if r == "Note"]
    assert len(notes) == len(doc.endnotes)
    texts = [_norm(t) for _, t, e in tree.elements if e.get("/P") in [n for n in notes]]
    assert texts == [_norm("i\u2003Alpha source, example.org/alpha"), _norm("ii\u2003Beta source.")]
    references = [e for r, _, e in tree.elements if r == "Reference"]
    assert len(references) == 3  # alpha, beta, alpha again
    described = [str(e.K.K.Obj.Contents) for e in references]
    assert described == ["Endnotes: i", "Endnotes: ii", "Endnotes: i"]


def test_page_furniture_is_an_artifact(seed_tree, built):
    with pdfplumber.open(built / "brief.pdf") as pdf:
        footer = [c for c in pdf.pages[3].chars if c["top"] > pdf.pages[3].height - 60]
        assert footer and all(c.get("mcid") is None for c in footer)
        body = [c for c in pdf.pages[3].chars if 100 < c["top"] < pdf.pages[3].height - 100]
        assert body and all(c.get("mcid") is not None for c in body)


def test_reportlab_formats_the_same_bytes_while_the_brief_is_saved(theme, monkeypatch):
    """While the brief is saved, reportlab's `format` and `PDFName` are quicker stand-ins: every
    object of a real brief, and values of every kind reportlab formats, come out as reportlab's own."""
    from reportlab.pdfbase import pdfdoc

    from briefkit.render import brief_pdf

    generic = pdfdoc.format, pdfdoc.PDFName
    values = ["/Type", "[0 0 1]", "caf\u00e9 \u2022 \u2013 \u0153", "", 0, -7, 2**31, 1 / 3, -0.5, 1e-7, 123456.789, True, None,
              b"raw \x80", pdfdoc.PDFName("A B#(c)/\u00e9"), pdfdoc.PDFString("caf\u00e9 \u2603 (x)"),
              pdfdoc.PDFArray([1.25, "/N", pdfdoc.PDFString("s")]),
              pdfdoc.PDFDictionary({"Name": "/N", "Size": 3.5, "Sub": pdfdoc.PDFDictionary({"\u00e9 key": 1})})]
    compared = []
    real = brief_pdf.write_pdf

    def both_ways(doc, *args, **kw):
        quick = pdfdoc.format, pdfdoc.PDFName
        assert quick != generic  # the stand-ins are in place
        objects = list(doc.idToObject.values()) + values
        fast = [quick[0](o, doc, toplevel=1) for o in objects] + [quick[1](v) for v in values if isinstance(v, str)]
        pdfdoc.format, pdfdoc.PDFName = generic
        try:
            slow = [generic[0](o, doc, toplevel=1) for o in objects] + [generic[1](v) for v in values if isinstance(v, str)]
        finally:
            pdfdoc.format, pdfdoc.PDFName = quick
        compared.append(len(objects))
        assert fast == slow
        return real(doc, *args, **kw)

    monkeypatch.setattr(brief_pdf, "write_pdf", both_ways)
    brief_pdf.render_brief(every_node_document(), theme)  # the module as now loaded (a test may load it anew)
    assert compared and compared[0] > 50 + len(values)  # pages, fonts, annotations, outline, ...
    assert (pdfdoc.format, pdfdoc.PDFName) == generic  # put back after saving
    with pytest.raises(UnicodeEncodeError):  # a character outside reportlab's encoding still fails
        with brief_pdf.pdf_tags.saving():
            pdfdoc.format("\x18", None)


def test_cross_reference_rows_come_back_through_the_png_up_predictor():
    """Rows of every byte value, undone as a PDF reader undoes the 'Up' predictor (each byte
    plus the one above it, modulo 256), are the rows written."""
    import random

    from briefkit.render.pdf_tags import _ROW, _png_up

    rng = random.Random(7)
    for count in (1, 2, 5, 300):
        rows = bytearray(rng.choice((0, 1, 127, 128, 255, rng.randrange(256))) for _ in range(count * _ROW))
        data = _png_up(rows)
        assert len(data) == count * (_ROW + 1)
        undone, above = bytearray(), bytes(_ROW)
        for start in range(0, len(data), _ROW + 1):
            assert data[start] == 2
            above = bytes((d + a) & 0xFF for d, a in zip(data[start + 1:start + 1 + _ROW], above))
            undone += above
        assert undone == rows
