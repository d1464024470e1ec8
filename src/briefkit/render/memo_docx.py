"""The Word memo: python-docx, real heading styles and native Word endnotes."""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import docx.api
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_BREAK
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.package import Unmarshaller
from docx.opc.part import PartFactory, XmlPart
from docx.opc.pkgreader import PackageReader
from docx.opc.pkgwriter import PackageWriter
from docx.oxml import parse_xml
from docx.oxml.ns import NamespacePrefixedTag, nsdecls
from docx.oxml.ns import qn as _qn
from docx.oxml.parser import oxml_parser
from docx.package import Package
from docx.parts.styles import StylesPart
from docx.shared import Emu, Inches, Pt, RGBColor
from docx.text.paragraph import Paragraph as WordParagraph
from lxml.etree import SubElement

from briefkit.kept import keep
from briefkit.model import (ADDRESS_BREAK, NOTE_SEPARATOR, Block, BulletList, Callout, Code, CodeBlock, Document, Emph, Endnote, Heading,
                            Image, Inline, LineBreak, Link, NoteRef, OrderedList, Paragraph, Quote, Rule,
                            Strong, Table, Text, address_pieces, block_text, cites_next, figure_rows, key_figures,
                            note_label, plain_text)
from briefkit.glyphs import text_width
from briefkit.stamp import PackageFiles, build_time, stamped_zip
from briefkit.theme import Theme

qn = functools.lru_cache(maxsize=None)(_qn)


@functools.lru_cache(maxsize=None)
def _tag(prefixed: str) -> tuple[str, dict[str, str]]:
    tag = NamespacePrefixedTag(prefixed)
    return tag.clark_name, tag.nsmap


def OxmlElement(prefixed: str, attrs: dict[str, str] | None = None):  # noqa: N802 (python-docx's name)
    """python-docx's OxmlElement, the tag's name and namespace worked out once per tag."""
    name, nsmap = _tag(prefixed)
    return oxml_parser.makeelement(name, attrib=attrs, nsmap=nsmap)


def _child(parent, prefixed: str):
    """A new last child of `parent`: made in its document, a fraction of the cost of an element made
    on its own and then appended (which is made in a document of its own first)."""
    return SubElement(parent, qn(prefixed))


_WORD_NUMFMT = {"lower-roman": "lowerRoman", "arabic": "decimal"}
TOC_LEVELS = 2  # headings the contents page lists


@dataclass(frozen=True, slots=True)
class _Fmt:
    bold: bool = False
    italic: bool = False
    mono: bool = False
    colour: str = ""
    underline: bool = False
    size: float = 0.0
    sans: bool = False  # the sans family, as captions and boxes' titles in the brief


@dataclass(frozen=True)
class _Styles:
    """A memo's styles part as `styles()` left it, and what the memo reads from it: the same for
    every memo of one reference document, theme, language and contents page (or none)."""

    partname: str
    xml: bytes
    ids: dict[str, str]  # style id by name
    defaults: frozenset[str]  # the ids of each type's default style
    numbering: dict[str, str]  # the numbering instance (w:numId) of a numbered style, by name


_STYLES: dict[tuple, _Styles] = {}
MAX_STYLES = 8  # styles parts a process keeps (each some 400 KB for the built-in reference)
_READERS: dict[tuple, PackageReader] = {}  # the reference document read, by file and version


class _WrittenStyles(StylesPart):
    """A styles part kept as the XML an earlier memo wrote for it, parsed only if something reads it."""

    def __init__(self, partname, content_type: str, xml: bytes, package) -> None:
        self._xml, self._parsed = xml, None
        super().__init__(partname, content_type, None, package)

    @property
    def _element(self):
        if self._parsed is None:
            self._parsed = parse_xml(self._xml)
        return self._parsed

    @_element.setter
    def _element(self, element) -> None:
        self._parsed = element

    @property
    def blob(self) -> bytes:
        return self._xml if self._parsed is None else super().blob


def _reader(path: Path) -> PackageReader:
    """The reference document's parts as read from its file, once per process and version of the file."""
    stat = path.stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _READERS:
        keep(_READERS, key, PackageReader.from_file(str(path)), 1)
    return _READERS[key]


def _open(path: Path, styles: _Styles | None):
    """`docx.Document(path)` from the file as read before; with `styles`, its styles part is their
    XML as written, not parsed (python-docx's default template's alone takes a fifth of a warm memo
    to parse)."""

    def part(partname, content_type, reltype, blob, package):
        if styles is not None and partname == styles.partname:
            return _WrittenStyles(partname, content_type, styles.xml, package)
        return PartFactory(partname, content_type, reltype, blob, package)

    package = Package()
    Unmarshaller.unmarshal(_reader(path), package, part)
    main = package.main_document_part
    if main.content_type != CT.WML_DOCUMENT_MAIN:
        raise ValueError(f"file '{path}' is not a Word file, content type is '{main.content_type}'")
    return main.document


class _Writer:
    def __init__(self, doc: Document, theme: Theme) -> None:
        self.doc, self.theme = doc, theme
        reference = theme.templates.find("reference.docx")
        self.reference = reference or Path(docx.api._default_docx_path())
        # every heading at the top level is listed on the contents page, the first being level 1
        self.contents = any(isinstance(block, Heading) for block in doc.blocks)
        stat = self.reference.stat()
        self._styles_key = (theme, self.reference, stat.st_mtime_ns, stat.st_size, doc.meta.language, self.contents)
        self.written_styles = _STYLES.get(self._styles_key)
        self.word = _open(self.reference, self.written_styles)
        if reference:
            _clear_body(self.word)
        self.cited: set[int] = set()  # notes whose native reference the text already holds
        self.in_endnotes = False
        self.toc: list[tuple[int, str, str]] = []  # (level, title, bookmark) of each heading
        self.heading_level = 0  # of the last heading in the body
        self.endnotes_part = self._add_endnotes_part()
        self._body = self.word.element.body
        self._body_end = self._body.sectPr  # body paragraphs go before it
        self._styles: dict[str, object] = {}  # by name, filled on first lookup
        self.ids: dict[str, str] = {}  # style id by name, once styles() has set the styles
        self.defaults: frozenset[str] = frozenset()
        self.numbering: dict[str, str] = {}
        self.text_width = self.text_height = 0  # the page's text area in EMU, once page_setup has set the page

    def _paragraph(self, container, style: str = "") -> WordParagraph:
        """`container.add_paragraph(style=...)` without python-docx's search of every style by name
        and of the body for its section properties on each call (quadratic in a long memo)."""
        p = _child(self._body if container is self.word else container._element, "w:p")
        if container is self.word and self._body_end is not None:
            self._body_end.addprevious(p)
        if style:
            _child(_child(p, "w:pPr"), "w:pStyle").set(qn("w:val"), self.ids[style])
        return WordParagraph(p, container)

    def _styled_paragraph(self, text: str, style: str) -> WordParagraph:
        """`self.word.add_paragraph(text, style=style)`: a type's default style is not named, and leaves
        an empty w:pPr, as python-docx leaves it."""
        p = self._paragraph(self.word, "" if self.ids[style] in self.defaults else style)
        if not len(p._p):
            p._p.append(OxmlElement("w:pPr"))
        r = OxmlElement("w:r")
        _set_text(r, text)
        p._p.append(r)
        return p

    def _add_table(self, container, rows: int, cols: int):
        """`container.add_table(rows, cols)`, in the body without python-docx reading the styles part
        to set no style."""
        if container is self.word:
            return self.word._body.add_table(rows, cols, self.word._block_width)
        return container.add_table(rows, cols)

    def _named_styles(self) -> dict:
        """The document's styles by name, made on first use: python-docx's lookup by name searches
        every style, each time."""
        if not self._styles:
            for style in self.word.styles:
                self._styles.setdefault(style.name, style)
        return self._styles

    def style(self, name: str):
        return self._named_styles()[name]

    def add_style(self, name: str, kind: WD_STYLE_TYPE, base=None):
        """The style named `name`; added, based on `base`, if the reference document lacks it."""
        styles = self._named_styles()
        if name not in styles:
            styles[name] = self.word.styles.add_style(name, kind)
            if base is not None:
                styles[name].base_style = base
        return styles[name]

    # setup ---------------------------------------------------------------------

    def _add_endnotes_part(self) -> XmlPart:
        xml = (f"<w:endnotes {nsdecls('w', 'r')}>"
               '<w:endnote w:type="separator" w:id="-1"><w:p><w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr>'
               "<w:r><w:separator/></w:r></w:p></w:endnote>"
               '<w:endnote w:type="continuationSeparator" w:id="0"><w:p><w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr>'
               "<w:r><w:continuationSeparator/></w:r></w:p></w:endnote></w:endnotes>")
        main = self.word.part
        for rel in list(main.rels.values()):
            if rel.reltype == RT.ENDNOTES:  # a reference.docx may carry its own, emptied here
                main.drop_rel(rel.rId)
        part = XmlPart(PackURI("/word/endnotes.xml"), CT.WML_ENDNOTES, parse_xml(xml), main.package)
        main.relate_to(part, RT.ENDNOTES)
        return part

    def styles(self) -> None:
        """The theme's styles, set through python-docx once per process, reference document, theme,
        language and contents page (or none); later memos take the styles part as that one wrote it."""
        if self.written_styles is not None:
            w = self.written_styles
            self.ids, self.defaults, self.numbering = w.ids, w.defaults, w.numbering
            return
        t, style = self.theme, self.style
        normal = style("Normal")
        _font(normal, t.font.serif, t.size.body, t.colour.text)
        normal.paragraph_format.space_after = Pt(t.spacing.paragraph_after)
        normal.paragraph_format.line_spacing = t.leading * 0.87  # Word's single spacing is already ~1.15 em
        lang = normal.element.get_or_add_rPr()
        el = OxmlElement("w:lang")
        el.set(qn("w:val"), self.doc.meta.language)
        lang.append(el)
        for level in (1, 2, 3):
            s = style(f"Heading {level}")
            _font(s, t.font.name, t.heading_size(level), t.colour.primary, bold=True)
            s.font.italic = False
            pf = s.paragraph_format
            pf.space_before, pf.space_after = Pt(t.spacing.heading_before * (1.4 if level == 1 else 1)), Pt(t.spacing.heading_after)
            pf.keep_with_next = True
        for name, size, colour in (("Title", t.size.title, t.colour.primary), ("Subtitle", t.size.subtitle, t.colour.muted)):
            s = style(name)
            _font(s, t.font.name, size, colour, bold=name == "Title")
            _no_border(s)
        for name in ("List Bullet", "List Bullet 2", "List Bullet 3", "List Number", "List Number 2", "List Number 3"):
            style(name).paragraph_format.space_after = Pt(3)
        quote = style("Quote")
        _font(quote, t.font.serif, t.size.body, t.colour.muted)
        quote.font.italic = True
        endnote = self.add_style("Endnote Text", WD_STYLE_TYPE.PARAGRAPH, base=normal)
        _font(endnote, t.font.serif, t.size.endnote, t.colour.text)
        endnote.paragraph_format.space_after = Pt(4)
        self.add_style("Endnote Reference", WD_STYLE_TYPE.CHARACTER).font.superscript = True
        for name in ("Header", "Footer"):
            _font(style(name), t.font.name, t.size.small, t.colour.muted)
        for s in self.word.styles:  # the base template's Macro Text styles name Courier, which Office lacks
            rfonts = s.element.rPr.find(qn("w:rFonts")) if s.element.rPr is not None else None
            if rfonts is not None and rfonts.get(qn("w:ascii")) == "Courier":
                s.font.name = t.font.mono
        if self.contents:
            for level in range(1, TOC_LEVELS + 1):
                s = self.add_style(f"toc {level}", WD_STYLE_TYPE.PARAGRAPH, base=normal)
                s.element.set(qn("w:styleId"), f"TOC{level}")
                _font(s, t.font.name, t.size.body, t.colour.text, bold=level == 1)
                pf = s.paragraph_format
                pf.left_indent = Pt(16 * (level - 1))
                pf.space_before, pf.space_after = Pt(6 if level == 1 else 0), Pt(2)
        named = self._named_styles()
        self.ids = {name: s.style_id for name, s in named.items()}
        self.defaults = frozenset(d.style_id for kind in WD_STYLE_TYPE if (d := self.word.styles.default(kind)) is not None)
        for name, s in named.items():
            num_id = s.element.find(f"{qn('w:pPr')}/{qn('w:numPr')}/{qn('w:numId')}")
            if num_id is not None:
                self.numbering[name] = num_id.get(qn("w:val"))

    def _keep_styles(self, files: PackageFiles) -> None:
        """The styles part as this memo wrote it, kept for the next memo of the same reference, theme,
        language and contents, if the reference document has one (else python-docx made it)."""
        partname = self.word.part.part_related_by(RT.STYLES).partname
        if self.written_styles is not None or not any(name == partname for name, *_ in _reader(self.reference).iter_sparts()):
            return
        keep(_STYLES, self._styles_key, _Styles(partname, files[partname.membername], self.ids, self.defaults, self.numbering),
             MAX_STYLES)

    def page_setup(self) -> None:
        t = self.theme
        section = self.word.sections[0]
        if t.page.size.lower() == "a4":
            section.page_width, section.page_height = Inches(8.27), Inches(11.69)
        else:
            section.page_width, section.page_height = Inches(8.5), Inches(11)
        section.top_margin, section.bottom_margin = Inches(t.page.margin_top), Inches(t.page.margin_bottom)
        section.left_margin, section.right_margin = Inches(t.page.margin_left), Inches(t.page.margin_right)
        self.text_width = section.page_width - section.left_margin - section.right_margin
        self.text_height = section.page_height - section.top_margin - section.bottom_margin
        section.different_first_page_header_footer = True
        fmt = _WORD_NUMFMT[self.doc.meta.endnote_style]
        pr = parse_xml(f'<w:endnotePr {nsdecls("w")}><w:numFmt w:val="{fmt}"/></w:endnotePr>')
        sect = section._sectPr
        anchor = next((c for c in sect if c.tag in (qn("w:type"), qn("w:pgSz"))), None)
        anchor.addprevious(pr) if anchor is not None else sect.append(pr)
        settings = self.word.settings.element
        spr = parse_xml(f'<w:endnotePr {nsdecls("w")}><w:numFmt w:val="{fmt}"/>'
                        '<w:endnote w:id="-1"/><w:endnote w:id="0"/></w:endnotePr>')
        compat = settings.find(qn("w:compat"))
        compat.addprevious(spr) if compat is not None else settings.append(spr)
        footer = section.footer.paragraphs[0]
        footer.alignment = 2  # right
        self._append(footer._p, [Text(f"{self.doc.meta.short_title}    {t.labels.page} ")], _Fmt())
        _field(footer._p, "PAGE", "1")
        self._append(footer._p, [Text(f" {t.labels.of} ")], _Fmt())
        _field(footer._p, "NUMPAGES", "1")

    def properties(self) -> None:
        m, cp = self.doc.meta, self.word.core_properties
        when = build_time(m).replace(tzinfo=None)
        # Office limits these properties to 255 characters
        cp.title, cp.subject = m.title[:255], m.subject[:255]
        cp.author = "; ".join(m.authors)[:255]
        cp.keywords = ", ".join(m.keywords)[:255]
        cp.language = m.language[:255]
        cp.comments = m.organization[:255]
        cp.last_modified_by = (m.organization or "briefkit")[:255]
        cp.created = cp.modified = when
        cp.revision = 1

    def title_page(self) -> None:
        m, t = self.doc.meta, self.theme
        spacer = self._paragraph(self.word)
        spacer.paragraph_format.space_before = Pt(150)
        title = self._styled_paragraph(m.title, "Title")
        title.paragraph_format.space_after = Pt(10)
        _bottom_border(title, t.colour.accent, 12)
        for text, size, colour, bold, before in (
            (m.subtitle, t.size.subtitle, t.colour.primary, False, 6),
            (m.organization, t.size.subtitle, t.colour.primary, True, 18),
            (m.when, t.size.body + 1, t.colour.muted, False, 2),
            (f"{t.labels.supervised_by} {m.supervisor}" if m.supervisor else "", t.size.body + 1, t.colour.text, False, 36),
            (", ".join(m.authors), t.size.body, t.colour.text, False, 10),
        ):
            if text:
                p = self._paragraph(self.word)
                p.paragraph_format.space_before = Pt(before)
                self._append(p._p, [Text(text)], _Fmt(bold=bold, colour=colour, size=size))
        self._paragraph(self.word).add_run().add_break(WD_BREAK.PAGE)

    def contents_page(self):
        """The contents heading and an empty paragraph where the entries go once headings are known."""
        heading = self._styled_paragraph(self.theme.labels.contents, "TOC Heading")
        heading.paragraph_format.keep_with_next = True
        place = self._paragraph(self.word)
        self._paragraph(self.word).add_run().add_break(WD_BREAK.PAGE)
        return place

    def _fill_contents(self, place) -> None:
        """A TOC field, its result pre-filled with one linked entry per heading, so that Word and
        LibreOffice show the contents as opened; updating the field (F9) adds page numbers."""
        entries = []
        for level, title, bookmark in self.toc:
            p = OxmlElement("w:p")
            ppr = OxmlElement("w:pPr")
            ppr.append(_val("w:pStyle", f"TOC{level}"))
            p.append(ppr)
            link = OxmlElement("w:hyperlink")
            link.set(qn("w:anchor"), bookmark)
            link.set(qn("w:history"), "1")
            link.append(self._run(title, _Fmt()))
            p.append(link)
            entries.append(p)
        if not entries:
            place._p.getparent().remove(place._p)
            return
        first, last = entries[0], entries[-1]
        begin = [_fld_run("begin"), _instr_run(f'TOC \\o "1-{TOC_LEVELS}" \\h \\z \\u'), _fld_run("separate")]
        for r in reversed(begin):
            first.insert(1, r)
        last.append(_fld_run("end"))
        for p in entries:
            place._p.addprevious(p)
        place._p.getparent().remove(place._p)

    # blocks --------------------------------------------------------------------

    def block(self, block: Block, container=None, depth: int = 0) -> None:
        c = container if container is not None else self.word
        t = self.theme
        match block:
            case Heading(level, children):
                if container is None:  # heading levels never skip one: Word's navigation and screen readers nest by them
                    level = self.heading_level = min(level, self.heading_level + 1)
                p = self._paragraph(c, f"Heading {min(level, 6)}")
                self._append(p._p, children, _Fmt())
                if container is None and level <= TOC_LEVELS:
                    self.toc.append((level, plain_text(children), _bookmark(p._p, f"_Toc{len(self.toc) + 1}", 1000 + len(self.toc))))
            case Paragraph(children):
                p = self._paragraph(c)
                self._append(p._p, children, _Fmt())
            case BulletList() | OrderedList():
                self._list(block, c, depth)
            case Quote(blocks):
                for b in blocks:
                    if isinstance(b, Paragraph):
                        p = self._paragraph(c, "Quote")
                        self._append(p._p, b.children, _Fmt())
                    else:
                        self.block(b, c, depth)
            case CodeBlock(text):
                p = self._paragraph(c)
                _shade_paragraph(p, t.colour.callout_fill)
                self._append(p._p, [Text(text)], _Fmt(mono=True, size=t.size.small))
            case Table():
                self._table(block, c)
            case Callout(kind="figures"):
                self._figures(block, c)
            case Callout():
                self._callout(block, c)
            case Image(path, alt):
                self._image(path, alt, c)
            case Rule():
                _bottom_border(self._paragraph(c), t.colour.rule, 6)
            case _:
                raise TypeError(f"memo: no case for {type(block).__name__}")

    def _list(self, block: BulletList | OrderedList, c, depth: int) -> None:
        ordered = isinstance(block, OrderedList)
        style = ("List Number" if ordered else "List Bullet") + ("" if depth == 0 else f" {min(depth + 1, 3)}")
        num_id = self._restart(style, block.start) if ordered else None
        for item in block.items:
            first = True
            for b in item:
                if isinstance(b, Paragraph) and first:
                    p = self._paragraph(c, style)
                    if num_id is not None:
                        _set_num(p, num_id)
                    self._append(p._p, b.children, _Fmt())
                    first = False
                elif isinstance(b, (BulletList, OrderedList)):
                    self._list(b, c, depth + 1)
                else:
                    self.block(b, c, depth + 1)

    def _restart(self, style: str, start: int) -> int | None:
        """A fresh numbering instance so each ordered list starts at its own number."""
        old = self.numbering.get(style)
        if old is None:
            return None
        numbering = self.word.part.numbering_part.element
        abstract = next(n.find(qn("w:abstractNumId")).get(qn("w:val")) for n in numbering.findall(qn("w:num")) if n.get(qn("w:numId")) == old)
        new_id = max(int(n.get(qn("w:numId"))) for n in numbering.findall(qn("w:num"))) + 1
        numbering.append(parse_xml(
            f'<w:num {nsdecls("w")} w:numId="{new_id}"><w:abstractNumId w:val="{abstract}"/>'
            f'<w:lvlOverride w:ilvl="0"><w:startOverride w:val="{start}"/></w:lvlOverride></w:num>'))
        return new_id

    def _table(self, block: Table, c) -> None:
        t = self.theme
        cols = max(len(block.header), *(len(r) for r in block.rows)) if block.rows else len(block.header)
        table = self._add_table(c, 0, cols)
        table._tbl.tblStyle_val = None if self.ids["Table Grid"] in self.defaults else self.ids["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        align = {"left": 0, "center": 1, "right": 2}
        for r, row in enumerate(((block.header,) if block.header else ()) + block.rows):
            cells = table.add_row().cells
            for i in range(cols):
                p = cells[i].paragraphs[0]
                p.alignment = align.get(block.aligns[i] if i < len(block.aligns) else "left", 0)
                _space_after(p._p, 2)
                head = r == 0 and bool(block.header)
                if head:
                    _shade_cell(cells[i], t.colour.primary)
                    _repeat_header(table.rows[0])
                self._append(p._p, row[i] if i < len(row) else (), _Fmt(bold=head, colour="FFFFFF" if head else "", size=t.size.small + 0.5, sans=True))
        self._paragraph(c)

    def _callout(self, block: Callout, c) -> None:
        """A shaded box with the same padding on every side, kept on one page."""
        t = self.theme
        table = self._add_table(c, 1, 1)
        cell = table.rows[0].cells[0]
        _shade_cell(cell, t.colour.callout_fill, t.colour.callout_border)
        title = cell.paragraphs[0]
        self._append(title._p, [Text(block.title)], _Fmt(bold=True, colour=t.colour.primary, sans=True))
        for b in block.blocks:
            self.block(b, cell)
        _keep_together(table, cell.paragraphs)
        self._paragraph(c)

    def _figures(self, block: Callout, c) -> None:
        """Cards one, two or three a row (figure_rows), the brief's look: accent rule on top."""
        t = self.theme
        figures = key_figures(block)
        if not figures:
            return
        rows = figure_rows(len(figures))
        # a value never breaks: all take the size at which the widest fits the narrowest card
        card = Emu(self.text_width // max(rows)).pt - 2 * 10 - 2 * 4.5  # padding and white sides
        widest = max(text_width(t.font_file("bold"), plain_text(f.value), t.size.figure) for f in figures)
        size = t.size.figure * min(1.0, card / widest) if widest else t.size.figure
        done = 0
        for count in rows:
            table = self._add_table(c, 1, count)
            table.alignment = WD_TABLE_ALIGNMENT.CENTER
            shown = figures[done:done + count]
            _table_alt_text(table, "; ".join(f"{plain_text(f.value)}: {plain_text(f.label)}" for f in shown))
            for cell, fig in zip(table.rows[0].cells, shown):
                _card_cell(cell, t.colour.callout_fill, t.colour.accent)
                value = cell.paragraphs[0]
                _space_after(value._p, 2)
                self._append(value._p, (Text(plain_text(fig.value).replace(" ", "\u00a0")),),
                             _Fmt(bold=True, colour=t.colour.accent, size=math.floor(size * 2) / 2, sans=True))
                label = self._paragraph(cell)
                _space_after(label._p, 2)
                self._append(label._p, fig.label, _Fmt(bold=True, colour=t.colour.primary, size=t.size.small + 0.5, sans=True))
                if fig.note:
                    note = self._paragraph(cell)
                    self._append(note._p, fig.note, _Fmt(colour=t.colour.muted, size=t.size.small, sans=True))
            _keep_together(table, [p for cell in table.rows[0].cells for p in cell.paragraphs])
            done += count
        self._paragraph(c)

    def _image(self, path: str, alt: str, c) -> None:
        width, height = self.text_width, self.text_height * 0.9
        from PIL import Image as PILImage

        with PILImage.open(path) as im:
            w, h = im.size
            dpi = im.info.get("dpi", (96, 96))[0] or 96
        natural = w / dpi * 914400
        shown = min(natural, width, height * w / h)  # within the text width and most of the page height
        run = self._paragraph(c).add_run()
        run.add_picture(path, width=Emu(int(shown)))
        docpr = run._r.find(".//" + qn("wp:docPr"))
        if docpr is not None:
            docpr.set("descr", alt)

    # inlines -------------------------------------------------------------------

    def _append(self, p, inlines, fmt: _Fmt, part=None) -> None:
        part = part or self.word.part
        for i, node in enumerate(inlines):
            if i and cites_next(inlines, i - 1):
                p.append(self._run(NOTE_SEPARATOR, _Fmt(), style="EndnoteReference"))
            match node:
                case Text(text):
                    p.append(self._run(text, fmt))
                case Emph(children):
                    self._append(p, children, replace(fmt, italic=not fmt.italic), part)
                case Strong(children):
                    self._append(p, children, replace(fmt, bold=True), part)
                case Code(text):
                    p.append(self._run(text, replace(fmt, mono=True)))
                case LineBreak():
                    r = OxmlElement("w:r")
                    r.append(OxmlElement("w:br"))
                    p.append(r)
                case Link(children, url):
                    link = OxmlElement("w:hyperlink")
                    link.set(qn("r:id"), part.relate_to(url, RT.HYPERLINK, is_external=True))
                    # Word breaks an address only at a hyphen: a zero width space in the shown
                    # text lets it break at the others too; the target stays the exact address
                    pieces = address_pieces(node)
                    shown = (Text(ADDRESS_BREAK.join(pieces)),) if pieces else children
                    self._append(link, shown, replace(fmt, colour=self.theme.colour.link, underline=True), part)
                    p.append(link)
                case NoteRef(number=n):
                    self._note_ref(p, n)
                case _:
                    raise TypeError(f"memo: no case for {type(node).__name__}")

    def _run(self, text: str, fmt: _Fmt, style: str = ""):
        r = OxmlElement("w:r")
        rpr = _child(r, "w:rPr")
        if style:
            _child(rpr, "w:rStyle").set(qn("w:val"), style)
        if fmt.mono or fmt.sans:
            fonts = _child(rpr, "w:rFonts")
            for a in ("w:ascii", "w:hAnsi", "w:cs"):
                fonts.set(qn(a), self.theme.font.mono if fmt.mono else self.theme.font.name)
        if fmt.bold:
            _child(rpr, "w:b")
        if fmt.italic:
            _child(rpr, "w:i")
        if fmt.colour:
            _child(rpr, "w:color").set(qn("w:val"), fmt.colour)
        if fmt.size:
            _child(rpr, "w:sz").set(qn("w:val"), str(round(fmt.size * 2)))
        if fmt.underline:
            _child(rpr, "w:u").set(qn("w:val"), "single")
        if not len(rpr):
            r.remove(rpr)
        _set_text(r, text)
        return r

    def _note_ref(self, p, number: int) -> None:
        """First citation: a native endnote reference. Later ones: a NOTEREF field to it.

        Inside an endnote (where Word allows no endnote reference) a note the text never
        cites is its number in superscript.
        """
        label = note_label(number, self.doc.meta.endnote_style)
        if self.in_endnotes and number not in self.cited:
            p.append(self._run(label, _Fmt(), style="EndnoteReference"))
            return
        if number not in self.cited:
            self.cited.add(number)
            start = _val("w:bookmarkStart", "", id=str(number), name=f"_RefNote{number}")
            r = OxmlElement("w:r")
            rpr = OxmlElement("w:rPr")
            rpr.append(_val("w:rStyle", "EndnoteReference"))
            r.append(rpr)
            ref = OxmlElement("w:endnoteReference")
            ref.set(qn("w:id"), str(number))
            r.append(ref)
            p.extend([start, r, _val("w:bookmarkEnd", "", id=str(number))])
            return
        _field(p, f"NOTEREF _RefNote{number} \\f \\h", label, style="EndnoteReference")

    def endnotes(self, notes: tuple[Endnote, ...]) -> None:
        root = self.endnotes_part.element
        self.in_endnotes = True
        for note in notes:
            en = _child(root, "w:endnote")
            en.set(qn("w:id"), str(note.number))
            paragraphs = _note_paragraphs(note)
            for i, inlines in enumerate(paragraphs):
                p = _child(en, "w:p")
                _child(_child(p, "w:pPr"), "w:pStyle").set(qn("w:val"), "EndnoteText")
                if i == 0:
                    r = _child(p, "w:r")
                    _child(_child(r, "w:rPr"), "w:rStyle").set(qn("w:val"), "EndnoteReference")
                    _child(r, "w:endnoteRef")
                    p.append(self._run(" ", _Fmt()))
                self._append(p, inlines, _Fmt(), part=self.endnotes_part)

    def render(self) -> bytes:
        self.styles()
        self.page_setup()
        self.properties()
        self.title_page()
        contents = self.contents_page()
        for block in self.doc.blocks:
            self.block(block)
        self._fill_contents(contents)
        if self.doc.endnotes:
            heading = self._styled_paragraph(self.theme.labels.endnotes, "Heading 1")
            heading.paragraph_format.page_break_before = True
        self.endnotes(self.doc.endnotes)
        _drop_thumbnail(self.word)
        files = _package_files(self.word.part.package)
        self._keep_styles(files)
        return stamped_zip(files, build_time(self.doc.meta))


def _package_files(package) -> PackageFiles:
    """What Document.save writes, as python-docx's package writer writes it."""
    parts = package.parts
    for part in parts:
        part.before_marshal()
    files = PackageFiles()
    PackageWriter._write_content_types_stream(files, parts)
    PackageWriter._write_pkg_rels(files, package.rels)
    PackageWriter._write_parts(files, parts)
    return files


def render_memo(doc: Document, theme: Theme) -> bytes:
    return _Writer(doc, theme).render()


# XML helpers -----------------------------------------------------------------


def _note_paragraphs(note: Endnote) -> list[tuple[Inline, ...]]:
    """An endnote's blocks as paragraphs of inlines (lists flattened with bullets)."""
    out: list[tuple[Inline, ...]] = []
    for block in note.blocks:
        match block:
            case Paragraph(children) | Heading(children=children):
                out.append(children)
            case CodeBlock(text):
                out.append((Code(text),))
            case _:
                out += [(Text(line),) for line in block_text(block).split("\n")]
    return out or [()]


def _val(tag: str, value: str, **attrs: str):
    el = OxmlElement(tag)
    if value:
        el.set(qn("w:val"), value)
    for k, v in attrs.items():
        el.set(qn(f"w:{k}"), v)
    return el


def _field(p, instruction: str, result: str, style: str = "") -> None:
    def run(*children):
        r = OxmlElement("w:r")
        if style:
            rpr = OxmlElement("w:rPr")
            rpr.append(_val("w:rStyle", style))
            r.append(rpr)
        r.extend(children)
        return r

    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    text = OxmlElement("w:t")
    text.text = result
    p.extend([run(_val("w:fldChar", "", fldCharType="begin")), run(instr),
              run(_val("w:fldChar", "", fldCharType="separate")), run(text),
              run(_val("w:fldChar", "", fldCharType="end"))])


def _font(style, name: str, size: float, colour: str, bold: bool | None = None) -> None:
    style.font.name = name
    style.font.size = Pt(size)
    style.font.color.rgb = RGBColor.from_string(colour)
    if bold is not None:
        style.font.bold = bold
    rfonts = style.element.rPr.find(qn("w:rFonts"))
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        if rfonts is not None and rfonts.get(qn(attr)) is not None:
            del rfonts.attrib[qn(attr)]
    if rfonts is not None:
        rfonts.set(qn("w:cs"), name)


def _no_border(style) -> None:
    ppr = style.element.pPr
    if ppr is not None:
        for el in ppr.findall(qn("w:pBdr")):
            ppr.remove(el)


# The children of w:pPr in the schema's sequence (python-docx's CT_PPr).
_PPR_ORDER = ("w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr", "w:widowControl", "w:numPr",
              "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku",
              "w:wordWrap", "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi",
              "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
              "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
              "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
_AFTER_NUMPR = _PPR_ORDER[_PPR_ORDER.index("w:numPr") + 1:]


def _ppr_child(p, tag: str):
    """The paragraph's w:pPr child `tag`, added where python-docx's get_or_add adds it (before the
    first child with the first of the later tags that has one), the children looked at once rather
    than searched for each later tag."""
    ppr = p.get_or_add_pPr()
    child = ppr.find(qn(tag))
    if child is None:
        first: dict = {}
        for c in ppr:
            first.setdefault(c.tag, c)
        later = (first[qn(t)] for t in _PPR_ORDER[_PPR_ORDER.index(tag) + 1:] if qn(t) in first)
        successor = next(later, None)
        child = _child(ppr, tag)
        if successor is not None:
            successor.addprevious(child)
    return child


def _on_off(p, tag: str, on: bool) -> None:
    """`paragraph_format.keep_together = on` for w:keepLines, and the like, as python-docx writes it."""
    child = _ppr_child(p, tag)
    if on:
        child.attrib.pop(qn("w:val"), None)
    else:
        child.set(qn("w:val"), "0")


def _space_after(p, points: float) -> None:
    """`paragraph_format.space_after = Pt(points)`, as python-docx writes it."""
    _ppr_child(p, "w:spacing").set(qn("w:after"), str(Pt(points).twips))


def _ppr_insert(paragraph, xml: str, tag: str) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    ppr.insert_element_before(parse_xml(xml), *_AFTER_NUMPR[_AFTER_NUMPR.index(tag) + 1:])


def _bottom_border(paragraph, colour: str, size: int) -> None:
    _ppr_insert(paragraph, f'<w:pBdr {nsdecls("w")}><w:bottom w:val="single" w:sz="{size}" w:space="4" w:color="{colour}"/></w:pBdr>', "w:pBdr")


def _shade_paragraph(paragraph, fill: str) -> None:
    _ppr_insert(paragraph, f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{fill}"/>', "w:shd")


# 10 pt of padding on every side of a box (twentieths of a point)
_EQUAL_MARGINS = "".join(f'<w:{side} w:w="200" w:type="dxa"/>' for side in ("top", "left", "bottom", "right"))


def _shade_cell(cell, fill: str, border: str = "", border_size: int = 24) -> None:
    """Fill a cell; with `border`, a left rule and inner margins, as a callout box."""
    tcpr = cell._tc.get_or_add_tcPr()
    if border:
        tcpr.append(parse_xml(
            f'<w:tcBorders {nsdecls("w")}><w:top w:val="nil"/><w:left w:val="single" w:sz="{border_size}" w:color="{border}"/>'
            '<w:bottom w:val="nil"/><w:right w:val="nil"/></w:tcBorders>'))
    tcpr.append(parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{fill}"/>'))
    if border:
        tcpr.append(parse_xml(f'<w:tcMar {nsdecls("w")}>{_EQUAL_MARGINS}</w:tcMar>'))


def _card_cell(cell, fill: str, accent: str) -> None:
    """A key-figure card: filled, an accent rule on top, white sides as the gap between cards."""
    tcpr = cell._tc.get_or_add_tcPr()
    tcpr.append(parse_xml(
        f'<w:tcBorders {nsdecls("w")}><w:top w:val="single" w:sz="20" w:color="{accent}"/>'
        '<w:left w:val="single" w:sz="36" w:color="FFFFFF"/><w:bottom w:val="nil"/>'
        '<w:right w:val="single" w:sz="36" w:color="FFFFFF"/></w:tcBorders>'))
    tcpr.append(parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{fill}"/>'))
    tcpr.append(parse_xml(f'<w:tcMar {nsdecls("w")}>{_EQUAL_MARGINS}</w:tcMar>'))


def _keep_together(table, paragraphs) -> None:
    """Word keeps a box on one page: its row cannot split, and each line keeps with the next."""
    for row in table.rows:
        trpr = row._tr.get_or_add_trPr()
        if trpr.find(qn("w:cantSplit")) is None:
            trpr.append(OxmlElement("w:cantSplit"))
    for p in paragraphs:
        _on_off(p._p, "w:keepLines", True)
        _on_off(p._p, "w:keepNext", p is not paragraphs[-1])
    if paragraphs:
        _space_after(paragraphs[-1]._p, 0)


def _bookmark(p, name: str, ident: int) -> str:
    """Wrap a paragraph's content in a bookmark; returns its name."""
    start = _val("w:bookmarkStart", "", id=str(ident), name=name)
    ppr = p.find(qn("w:pPr"))
    if ppr is not None:
        ppr.addnext(start)
    else:
        p.insert(0, start)
    p.append(_val("w:bookmarkEnd", "", id=str(ident)))
    return name


def _fld_run(kind: str):
    r = OxmlElement("w:r")
    r.append(_val("w:fldChar", "", fldCharType=kind))
    return r


def _instr_run(instruction: str):
    r = OxmlElement("w:r")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    r.append(instr)
    return r


def _drop_thumbnail(word) -> None:
    """The base template's thumbnail shows a blank page; a file without one gets the reader's own preview."""
    package = word.part.package
    for rel in list(package.rels.values()):
        if rel.reltype == RT.THUMBNAIL:
            package.rels.pop(rel.rId)


def _table_alt_text(table, text: str) -> None:
    """A table's alt text (Word's Table Properties > Alt Text), which screen readers announce."""
    tbl_pr = table._tbl.tblPr
    caption = OxmlElement("w:tblCaption")
    caption.set(qn("w:val"), text[:255])
    description = OxmlElement("w:tblDescription")
    description.set(qn("w:val"), text)
    # schema order: both come last in w:tblPr
    tbl_pr.append(caption)
    tbl_pr.append(description)


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    if trpr.find(qn("w:tblHeader")) is None:
        trpr.append(OxmlElement("w:tblHeader"))


def _set_num(paragraph, num_id: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    ppr.insert_element_before(parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="0"/><w:numId w:val="{num_id}"/></w:numPr>'),
                              *_AFTER_NUMPR)


def _clear_body(word) -> None:
    body = word.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)


_RUN_BREAKS = re.compile(r"([\t\r\n])")


def _set_text(r, text: str) -> None:
    """The run's text as python-docx writes it (a tab as w:tab, a line end as w:br), in bulk."""
    for piece in _RUN_BREAKS.split(text):
        if piece == "\t":
            _child(r, "w:tab")
        elif piece in ("\r", "\n"):
            _child(r, "w:br")
        elif piece:
            t = _child(r, "w:t")
            t.text = piece
            if len(piece.strip()) < len(piece):
                t.set(qn("xml:space"), "preserve")
