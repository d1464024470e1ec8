"""The PDF brief, read back with pypdf and pdfplumber."""

from __future__ import annotations

import io
import re

import pdfplumber
import pypdf
import pytest
from dataclasses import replace

from briefkit.templates import Templates
from briefkit.model import Callout, Endnote, Heading, Link, Paragraph, Quote, Text
from briefkit.render.brief_pdf import render_brief
from briefkit.theme import load_theme
from conftest import TEMPLATES, coverage, every_node_document, seed_text

ROMAN = "i ii iii iv v vi vii viii ix x xi xii xiii xiv xv xvi xvii xviii xix xx xxi xxii xxiii xxiv xxv xxvi".split()


@pytest.fixture(scope="module")
def theme():
    return load_theme(Templates.of(TEMPLATES))


def _text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def _outline(reader: pypdf.PdfReader, items=None, depth=0) -> list[tuple[int, str]]:
    out = []
    for item in reader.outline if items is None else items:
        if isinstance(item, list):
            out += _outline(reader, item, depth + 1)
        else:
            out.append((depth, item.title))
    return out


def _internal_links(data: bytes) -> list[tuple[str, str]]:
    """(text under each internal link, first words of the line it lands on)."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    pages = {p.indirect_reference.idnum: i for i, p in enumerate(reader.pages)}
    out = []
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for src_index, page in enumerate(reader.pages):
            src = pdf.pages[src_index]
            for annot in page.get("/Annots") or []:
                a = annot.get_object()
                dest = a.get("/Dest")
                if a.get("/Subtype") != "/Link" or dest is None or dest[1] != "/XYZ":
                    continue
                x0, y0, x1, y1 = (float(v) for v in a["/Rect"])
                label = src.within_bbox((x0 - 1, src.height - y1 - 1, x1 + 1, src.height - y0 + 1)).extract_text().strip()
                target = pdf.pages[pages[dest[0].idnum]]
                top = target.height - float(dest[3])
                words = [w for w in target.extract_words() if top - 1 <= w["top"] <= top + 12 and w["height"] > 6]
                out.append((label, " ".join(w["text"] for w in sorted(words, key=lambda w: w["x0"]))))
    return out


def test_every_node_renders_with_literal_markup(theme):
    text = _text(render_brief(every_node_document(), theme))
    for expected in ("Section One", "emphasis", "strong", "code()", "a link", "<b>{{ literal }}</b> & more",
                     "bullet one", "nested bullet", "first step", "A quoted line.", "if a < b:", "rows",
                     "Key Recommendations:", "Do the second thing.", "$1bn", "invested", "Closing paragraph.",
                     "Alpha source", "Beta source."):
        assert expected in text, expected


def test_outline_nests_as_the_document(theme):
    reader = pypdf.PdfReader(io.BytesIO(render_brief(every_node_document(), theme)))
    assert _outline(reader) == [(0, "Section One"), (1, "Sub Section"), (2, "Third Level"), (0, "Endnotes")]
    assert reader.trailer["/Root"]["/PageMode"] == "/UseOutlines"


def test_note_links_both_ways(theme):
    links = _internal_links(render_brief(every_node_document(), theme))
    # each citation lands on its endnote; each endnote's number lands back on the citing line
    to_notes = [(label, landing.split(" ")[:3]) for label, landing in links if not landing.startswith("after break")]
    assert ("i", ["i", "Alpha", "source,"]) in to_notes and ("ii", ["ii", "Beta", "source."]) in to_notes
    back = [label for label, landing in links if landing.startswith("after break")]  # the citing line
    assert sorted(back) == ["i", "ii"]


def test_only_safe_schemes_are_clickable(theme):
    reader = pypdf.PdfReader(io.BytesIO(render_brief(every_node_document(), theme)))
    uris = [a.get_object()["/A"]["/URI"] for p in reader.pages for a in p.get("/Annots") or []
            if "/A" in a.get_object() and "/URI" in a.get_object()["/A"]]
    assert "https://example.org/" in uris and all(u.startswith(("http", "mailto")) for u in uris)


def test_metadata_and_language(theme):
    reader = pypdf.PdfReader(io.BytesIO(render_brief(every_node_document(), theme)))
    info = reader.metadata
    assert (info.title, info.author, info.subject) == ("Every Node", "A. Author; B. Author", "Testing")
    assert info["/Keywords"] == "one, two" and info["/Creator"].startswith("briefkit")
    assert reader.trailer["/Root"]["/Lang"] == "en-US"


def test_long_url_and_word_stay_inside_the_margins(theme):
    doc = every_node_document()
    long_url = "https://example.org/" + "segment/" * 60 + "end"
    word = "x" * 2000
    note = Endnote("alpha", 1, (Paragraph((Link((Text(long_url),), long_url), Text(" " + word))),))
    doc = replace(doc, blocks=doc.blocks + (Paragraph((Text(word),)),), endnotes=(note, doc.endnotes[1]))
    _assert_inside_margins(render_brief(doc, theme), theme)


def _assert_inside_margins(data: bytes, theme) -> None:
    left, right = theme.page.margin_left * 72, theme.page.margin_right * 72
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            for ch in page.chars:
                if ch["text"].isspace():  # a space that ends a line may touch the margin; ink may not
                    continue
                assert ch["x0"] >= left - 1 and ch["x1"] <= page.width - right + 1, (page.page_number, ch["text"])
                assert ch["top"] >= 0 and ch["bottom"] <= page.height


# The real briefing -------------------------------------------------------------


def _unhyphenated(text: str) -> str:
    """Hyphens inside words dropped, so "like-minded" at a line end and in the source compare equal."""
    return re.sub(r"(?<=\w)-(?=\w)", "", text)


def _reading_text(data: bytes, theme) -> str:
    """The pages' text without running header, footer, note marks and endnote labels."""
    top, bottom = theme.page.margin_top * 72 - 4, theme.page.margin_bottom * 72 - 4
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        text = "\n".join(
            p.filter(lambda o: o.get("object_type") != "char"
                     or (o["size"] >= 8 and top <= o["top"] and o["bottom"] <= p.height - bottom)).extract_text()
            for p in pdf.pages)
    text = _unhyphenated(re.sub(r"(?<=\w)-\n(?=\w)", "-", text))  # words broken at a line end read whole
    cut = text.rindex("Endnotes")
    return text[:cut] + re.sub(r"(?m)^[ivxlc]+\s", "", text[cut:])


def test_brief_carries_the_whole_seed_and_26_notes(built, theme):
    reader = pypdf.PdfReader(str(built / "brief.pdf"))
    text = "\n".join(p.extract_text() for p in reader.pages)
    # what is left out: words of web addresses broken across lines in the endnotes
    assert coverage(_unhyphenated(seed_text()), _reading_text((built / "brief.pdf").read_bytes(), theme)) >= 0.97
    notes = text[text.rindex("Endnotes"):]
    starts = [notes.index(f"{r}\u2003") if f"{r}\u2003" in notes else notes.index(f"{r} ") for r in ROMAN]
    assert "Garrison, Cassandra" in notes and "Justice Department announces" in notes
    assert starts == sorted(starts)


def test_brief_outline_has_every_section(built):
    outline = _outline(pypdf.PdfReader(str(built / "brief.pdf")))
    top = [t for d, t in outline if d == 0]
    assert top == ["Executive Summary", "Introduction", "Trade Policy and USMCA", "Migration", "Security",
                   "Policy Recommendations", "Conclusion", "Endnotes"]
    assert (1, "Pillar II: Migration Management") in outline
    assert (2, "Improve supply chain security.") in outline


def test_every_citation_links_to_its_note(built):
    links = _internal_links((built / "brief.pdf").read_bytes())
    to_notes = {label for label, landing in links if landing.split(" ")[0] == label}
    assert to_notes == set(ROMAN)
    assert any(label == "xxi" and landing.startswith("xxi Salvador Rivera,") for label, landing in links)


def test_brief_stays_inside_margins(built, theme):
    _assert_inside_margins((built / "brief.pdf").read_bytes(), theme)


def test_contents_page_lists_sections_with_pages(built):
    page2 = pypdf.PdfReader(str(built / "brief.pdf")).pages[1].extract_text()
    assert "Contents" in page2 and "Policy Recommendations" in page2 and "Endnotes" in page2


def test_contents_and_page_footers_give_the_pages_a_reader_finds(built, theme):
    with pdfplumber.open(built / "brief.pdf") as pdf:
        pages = [[" ".join(line.split()) for line in (p.extract_text() or "").splitlines()] for p in pdf.pages]
    total = len(pages)
    for number, lines in enumerate(pages[1:], start=2):
        assert lines[-1] == f"{theme.labels.page} {number} {theme.labels.of} {total}"
    entries = [m.groups() for line in pages[1] if (m := re.fullmatch(r"(.+?)(?: \.)+ (\d+)", line))]
    assert len(entries) >= 8 and entries[-1][0] == "Endnotes"
    assert [int(page) for _, page in entries] == sorted(int(page) for _, page in entries)
    for title, page in entries:  # each heading stands on a line of its own on the page named
        assert any(title.startswith(line) and len(line) > 3 for line in pages[int(page) - 1]), (title, page)


def test_kept_layouts_set_no_line_again_and_give_the_same_bytes(theme, monkeypatch):
    """Within `layouts_kept` (as `watch` renders), a render lays out again only the paragraphs
    it has not seen: rendering the seed brief a second time breaks no paragraph into lines,
    and every render is the bytes of one without kept layouts."""
    from reportlab.platypus.paragraph import Paragraph as ReportlabParagraph

    from briefkit.build import FORMATS, MEMO_TEMPLATE, prepare
    from briefkit.render import brief_pdf
    from conftest import CONTENT

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    doc = prepare(CONTENT, TEMPLATES, FORMATS).documents[MEMO_TEMPLATE]
    longest = max((b for b in doc.blocks if isinstance(b, Paragraph)), key=lambda b: len(str(b)))
    heading = next(b for b in doc.blocks if isinstance(b, Heading))
    # the same words again, in a box (narrower) and as a quote (another style); a heading again
    doc = replace(doc, blocks=doc.blocks + (Callout("note", "", (longest,)), Quote((longest,)), heading))
    broken = []
    real = ReportlabParagraph.breakLines

    def counted(self, width):
        broken.append(self)
        return real(self, width)

    monkeypatch.setattr(ReportlabParagraph, "breakLines", counted)
    cold = render_brief(doc, theme)
    assert any(isinstance(p, brief_pdf._Paragraph) for p in broken)  # the count sees our paragraphs
    with brief_pdf.layouts_kept():
        first = render_brief(doc, theme)
        broken.clear()
        again = render_brief(doc, theme)
        assert not [p for p in broken if isinstance(p, brief_pdf._Paragraph)]
        smaller = render_brief(replace(doc, blocks=doc.blocks[1:]), theme)  # a block gone: the rest shift up
    assert cold == first == again
    assert smaller == render_brief(replace(doc, blocks=doc.blocks[1:]), theme)


def test_a_theme_font_changed_in_the_same_process_is_the_one_used(theme, monkeypatch):
    """`watch` renders in one process: a brief after a theme's body font changed is set in the
    new font, and back again (reportlab keeps the first font registered under a name)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    other = replace(theme, font=replace(theme.font, serif_regular="Carlito-Regular.ttf"))  # the sans file
    doc = every_node_document()
    renders = [render_brief(doc, t) for t in (theme, other, theme, other)]

    def body_fonts(data: bytes) -> set[str]:
        return {str(f["/BaseFont"]).split("+")[-1] for page in pypdf.PdfReader(io.BytesIO(data)).pages
                for f in page["/Resources"]["/Font"].values()}

    assert "Caladea-Regular" in body_fonts(renders[0]) and "Caladea-Regular" not in body_fonts(renders[1])
    assert renders[0] == renders[2] and renders[1] == renders[3] and renders[0] != renders[1]


def test_a_kept_layout_learnt_from_a_paragraph_parsed_before_wrapping_is_whole(theme):
    """A paragraph whose markup was parsed before it was laid out (a table asking its width)
    leaves a layout that another paragraph of the same markup can be drawn from."""
    from reportlab.pdfgen.canvas import Canvas

    from briefkit.render import brief_pdf

    brief_pdf.warm_up(theme)  # the fonts registered
    style = brief_pdf.stylesheet(theme).body
    with brief_pdf.layouts_kept():
        brief_pdf._LAYOUTS.begin((theme, "en-US"))
        first, second = (brief_pdf._Paragraph("Some <b>bold</b> words, set twice.", style) for _ in range(2))
        first.minWidth()  # parses it
        first.wrap(200, 100)
        assert second.wrap(200, 100) == first.wrap(200, 100)
        second.drawOn(Canvas(io.BytesIO()), 0, 0)
        assert second.getPlainText() == "Some bold words, set twice."


def test_kept_streams_and_subsets_are_made_once_and_give_the_same_bytes(theme, monkeypatch):
    """Within `layouts_kept`, a render compresses no stream and makes no font subset that the
    render before had (the same seed brief again: none at all), and every render, the same
    or edited, is the bytes of one without anything kept."""
    import zlib

    from reportlab.pdfbase import pdfdoc
    from reportlab.pdfbase.ttfonts import TTFontFace

    from briefkit.render import brief_pdf, pdf_tags

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    made = []
    compress, subset = zlib.compress, TTFontFace.makeSubset
    monkeypatch.setattr(zlib, "compress", lambda data, *a: made.append("stream") or compress(data, *a))
    counted_subset = lambda face, chars: made.append("subset") or subset(face, chars)  # noqa: E731
    monkeypatch.setattr(TTFontFace, "makeSubset", counted_subset)
    doc = every_node_document()
    edited = replace(doc, blocks=doc.blocks[1:])
    cold = render_brief(doc, theme)
    assert "stream" in made and "subset" in made  # the counts see what a render makes
    made.clear()
    cold_edited = render_brief(edited, theme)
    streams = made.count("stream")
    with brief_pdf.layouts_kept():
        first = render_brief(doc, theme)
        made.clear()
        again = render_brief(doc, theme)
        assert made == []
        changed = render_brief(edited, theme)
        assert made.count("stream") < streams  # only what the edit changed
        assert pdf_tags._KEPT.size <= pdf_tags.MAX_KEPT
        assert render_brief(edited, theme) == changed
        made.clear()
        assert render_brief(doc, theme) == first
        assert "stream" in made  # what only the first brief had was let go two renders after
    assert pdf_tags._KEPT is None
    assert TTFontFace.makeSubset is counted_subset and "encode" not in vars(pdfdoc.PDFZCompress)  # put back
    assert cold == first == again and cold_edited == changed


def test_kept_streams_let_go_of_what_the_last_file_did_not_use(monkeypatch):
    """An entry neither used nor made by the last file is dropped; none is kept past the bound."""
    from briefkit.render import pdf_tags

    kept = pdf_tags._Kept()
    kept.begin()
    kept.get(b"a" * 10, lambda: b"A")
    kept.get(b"b" * 10, lambda: b"B")
    kept.begin()
    assert kept.get(b"a" * 10, lambda: b"not again") == b"A"  # from the file before
    kept.begin()
    assert kept.get(b"b" * 10, lambda: b"made again") == b"made again"  # two files back: let go
    assert kept.get(b"a" * 10, lambda: b"not again") == b"A"
    monkeypatch.setattr(pdf_tags, "MAX_KEPT", 25)
    kept = pdf_tags._Kept()
    kept.begin()
    for key in (b"a", b"b", b"c"):
        kept.get(key * 10, lambda: b"X")
    assert kept.size == 22 and b"c" * 10 not in kept.now  # 'a' and 'b' (11 bytes each) fill it


def test_a_kept_layout_is_left_as_it_was_by_the_renders_drawn_from_it(theme, monkeypatch):
    """The objects of a kept layout, shared by the paragraphs set from it, are unchanged by
    renders that draw and split those paragraphs (the seed brief, also in a narrower box and
    as a quote): each pickles as it did when it was unpickled, and the renders are the bytes
    of one without kept layouts."""
    import pickle

    from briefkit.build import FORMATS, MEMO_TEMPLATE, prepare
    from briefkit.render import brief_pdf
    from conftest import CONTENT

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    doc = prepare(CONTENT, TEMPLATES, FORMATS).documents[MEMO_TEMPLATE]
    longest = max((b for b in doc.blocks if isinstance(b, Paragraph)), key=lambda b: len(str(b)))
    doc = replace(doc, blocks=doc.blocks + (Callout("note", "", (longest,)), Quote((longest,))))
    split = []
    real = brief_pdf._Paragraph.split
    monkeypatch.setattr(brief_pdf._Paragraph, "split",
                        lambda self, *a: split.append("_shared" in self.__dict__) or real(self, *a))
    cold = render_brief(doc, theme)
    with brief_pdf.layouts_kept():
        first = render_brief(doc, theme)
        split.clear()
        renders = [render_brief(doc, theme) for _ in range(2)]
        kept = list(brief_pdf._LAYOUTS.now.values())
        assert any(split)  # paragraphs set from kept layouts were split
        shared = [entry for entry in kept if entry[1] is not None]
        assert len(shared) > 100
        for data, state in shared:  # as it was unpickled, so pickled again
            assert pickle.dumps(state) == pickle.dumps(pickle.loads(data))
    assert renders == [cold, cold] and first == cold


def test_the_frame_copies_as_deepcopy_copies_a_frame():
    """The brief's frame, deep-copied as platypus copies it to measure a table cell, is what
    deepcopy makes of reportlab's frame: equal values, and none but numbers and strings shared."""
    import copy

    from reportlab.platypus import Frame, Spacer

    from briefkit.render import brief_pdf

    ours = brief_pdf._Frame(10, 20, 300, 400, id="body", leftPadding=0)
    ours._frameBGs = [(0, 0, [1, 2], "white")]
    ours._generated_content = [[Spacer(1, 2)]]
    theirs = Frame.__new__(Frame)
    theirs.__dict__.update(ours.__dict__)
    mine, generic = copy.deepcopy(ours), copy.deepcopy(theirs)
    assert type(mine) is brief_pdf._Frame
    assert list(vars(mine)) == list(vars(generic)) == list(vars(ours))
    for name, value in vars(ours).items():
        assert repr(vars(mine)[name]) == repr(vars(generic)[name]), name
        assert (vars(mine)[name] is value) == (vars(generic)[name] is value), name
    assert mine._frameBGs[0][2] is not ours._frameBGs[0][2] and mine._generated_content[0][0] is not ours._generated_content[0][0]
