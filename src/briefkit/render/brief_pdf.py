"""The PDF brief: reportlab platypus, embedded theme fonts, contents page, outline, linked notes."""

from __future__ import annotations

import io
import pickle
import re
from contextlib import contextmanager, nullcontext
from copy import deepcopy
from dataclasses import dataclass
from typing import Iterator
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (BaseDocTemplate, CondPageBreak, Frame, HRFlowable, KeepTogether, ListFlowable,
                                ListItem, NextPageTemplate, PageBreak, PageTemplate, Paragraph as RLParagraph,
                                Preformatted, Spacer, Table as RLTable, TableStyle)
from reportlab.platypus import Image as RLImage
from reportlab.platypus.paragraph import _getFragWords, _processed_frags, cleanBlockQuotedText
from reportlab.platypus.tableofcontents import TableOfContents

from briefkit.kept import Generations
from briefkit.model import (ADDRESS_BREAK, NOTE_SEPARATOR, Block, BulletList, Callout, Code, CodeBlock, Document, Emph, Heading,
                            Image, Inline, LineBreak, Link, Meta, NoteRef, OrderedList, Paragraph, Quote, Rule, Strong, Table, Text,
                            address_pieces, block_text, cites_next, figure_rows, key_figures, note_label, plain_text)
from briefkit.render import hyphenation
from briefkit.render import pdf_tags
from briefkit.render.pdf_tags import Tags, TaggedBullet, write_pdf
from briefkit.stamp import build_time
from briefkit.theme import Theme

SANS, SERIF, MONO = "BriefSans", "BriefSerif", "BriefMono"
# Table cells that hold no paragraph still set a font: ours, so that no unembedded one is named
_TABLE_FONT = ("FONTNAME", (0, 0), (-1, -1), SANS)
_STYLES = (("regular", ""), ("bold", "-Bold"), ("italic", "-Italic"), ("bold_italic", "-BoldItalic"))
_SUFFIX = {(False, False): "", (True, False): "-Bold", (False, True): "-Italic", (True, True): "-BoldItalic"}  # (bold, italic)


def _register_fonts(theme: Theme) -> None:
    """Embed the theme's TrueType files under fixed names (registered again when a file changes)."""
    files = {SANS + suffix: theme.font_file(style) for style, suffix in _STYLES}
    files |= {SERIF + suffix: theme.font_file("serif_" + style) for style, suffix in _STYLES}
    files[MONO] = theme.font_file("mono_regular")
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, path in files.items():
        if name in registered:
            if pdfmetrics.getFont(name).face.filename == str(path):
                continue
            # reportlab keeps the first font registered under a name, and has no call to drop it;
            # a font another name still uses (one file for two styles) stays that name's
            old = pdfmetrics._fonts.pop(name)
            if old not in pdfmetrics._fonts.values() and pdfmetrics._dynFaceNames.get(old.face.name) is old:
                del pdfmetrics._dynFaceNames[old.face.name]
        pdfmetrics.registerFont(_Font(name, str(path)))
    for family in (SANS, SERIF):
        pdfmetrics.registerFontFamily(family, normal=family, bold=family + "-Bold", italic=family + "-Italic",
                                      boldItalic=family + "-BoldItalic")
    pdfmetrics.registerFontFamily(MONO, normal=MONO, bold=MONO, italic=MONO, boldItalic=MONO)


class _Font(TTFont):
    """reportlab's embedded TrueType font, encoding text whose characters all have their codes
    in the first subset already (most text, once a page or two is set) in one translation,
    instead of a character at a time; the same bytes."""

    def splitString(self, text, doc, encoding="utf-8"):  # noqa: N802 (reportlab's name)
        state = self.state.get(doc)
        if state is not None and isinstance(text, str):
            known = state.__dict__.get("first_subset")
            if known is None or known[0] != len(state.assignments):  # codes were given since
                codes = {char: chr(n) for char, n in state.assignments.items() if n < 256}
                if 32 in codes:
                    codes[0xA0] = codes[32]  # reportlab sets a no-break space as a space
                known = state.first_subset = (len(state.assignments), codes, frozenset(map(chr, codes)))
            if known[2].issuperset(text):
                return [(0, text.translate(known[1]).encode("latin-1"))] if text else []
        return super().splitString(text, doc, encoding)


def warm_up(theme: Theme) -> None:
    """What a render loads first, loaded before its document is known: the theme's fonts."""
    _register_fonts(theme)


def _hex(value: str) -> colors.Color:
    return colors.HexColor("#" + value)


@dataclass(frozen=True, slots=True)
class _Styles:
    body: ParagraphStyle
    heading: tuple[ParagraphStyle, ...]
    bullet: ParagraphStyle
    quote: ParagraphStyle
    code: ParagraphStyle
    cell: ParagraphStyle
    cell_head: ParagraphStyle
    callout_title: ParagraphStyle
    figure_value: ParagraphStyle
    figure_label: ParagraphStyle
    figure_note: ParagraphStyle
    endnote: ParagraphStyle
    title: ParagraphStyle
    cover: ParagraphStyle
    cover_strong: ParagraphStyle
    toc: tuple[ParagraphStyle, ...]


def hyphenator(language: str):
    """Hyphenation points by pyphen's dictionary for a language tag ('en-US'), three letters at
    least on either side of the break; '' (no hyphenation) when pyphen has no such dictionary."""
    found = hyphenation.hyphenator(language, left=3, right=3)
    return found.iterate if found else ""


def stylesheet(theme: Theme, language: str = "en-US") -> _Styles:
    """Paragraph styles by role, all built from the theme; text hyphenated by the document's language."""
    s, c = theme.size, theme.colour
    body = ParagraphStyle("body", fontName=SERIF, fontSize=s.body, leading=s.body * theme.leading,
                          textColor=_hex(c.text), spaceAfter=theme.spacing.paragraph_after, splitLongWords=1,
                          allowWidows=0, allowOrphans=0, hyphenationLang=hyphenator(language),
                          hyphenationMinWordLength=8)
    headings = tuple(
        ParagraphStyle(f"heading{n}", parent=body, fontName=SANS + "-Bold", fontSize=theme.heading_size(n),
                       leading=theme.heading_size(n) * 1.25, textColor=_hex(c.primary),
                       spaceBefore=theme.spacing.heading_before * (1.3 if n == 1 else 1),
                       spaceAfter=theme.spacing.heading_after, hyphenationLang="")
        for n in (1, 2, 3))
    small = dict(fontSize=s.small, leading=s.small * 1.35)
    return _Styles(
        body=body,
        heading=headings,
        bullet=ParagraphStyle("bullet", parent=body, spaceAfter=3),
        quote=ParagraphStyle("quote", parent=body, leftIndent=18, rightIndent=18, textColor=_hex(c.muted),
                             fontName=SERIF + "-Italic"),
        code=ParagraphStyle("code", parent=body, fontName=MONO, fontSize=s.small, leading=s.small * 1.3,
                            backColor=_hex(c.callout_fill), borderPadding=6, leftIndent=6, rightIndent=6,
                            spaceBefore=6, spaceAfter=12),
        cell=ParagraphStyle("cell", parent=body, hyphenationLang="", fontName=SANS, spaceAfter=0, **small),
        cell_head=ParagraphStyle("cell_head", parent=body, hyphenationLang="", spaceAfter=0, fontName=SANS + "-Bold",
                                 textColor=colors.white, **small),
        callout_title=ParagraphStyle("callout_title", parent=body, hyphenationLang="", fontName=SANS + "-Bold",
                                     textColor=_hex(c.primary), spaceAfter=2),
        figure_value=ParagraphStyle("figure_value", parent=body, hyphenationLang="", fontName=SANS + "-Bold", fontSize=s.figure,
                                    leading=s.figure * 1.15, textColor=_hex(c.accent), spaceAfter=2),
        figure_label=ParagraphStyle("figure_label", parent=body, hyphenationLang="", fontName=SANS + "-Bold",
                                    textColor=_hex(c.primary), spaceAfter=2, **small),
        figure_note=ParagraphStyle("figure_note", parent=body, hyphenationLang="", fontName=SANS, textColor=_hex(c.muted), spaceAfter=0, **small),
        endnote=ParagraphStyle("endnote", parent=body, hyphenationLang="",  # notes are mostly names and addresses
                               fontSize=s.endnote, leading=s.endnote * 1.4, leftIndent=26,
                               firstLineIndent=-26, spaceAfter=4),
        title=ParagraphStyle("title", parent=body, hyphenationLang="", fontName=SANS + "-Bold", fontSize=s.title,
                             leading=s.title * 1.2, textColor=_hex(c.primary), spaceAfter=14),
        cover=ParagraphStyle("cover", parent=body, hyphenationLang="", fontName=SANS, fontSize=s.subtitle - 1, leading=(s.subtitle - 1) * 1.4,
                             textColor=_hex(c.muted)),
        cover_strong=ParagraphStyle("cover_strong", parent=body, hyphenationLang="", fontName=SANS + "-Bold", fontSize=s.subtitle,
                                    leading=s.subtitle * 1.4, textColor=_hex(c.primary)),
        toc=tuple(ParagraphStyle(f"toc{n}", parent=body, hyphenationLang="", leftIndent=16 * n, firstLineIndent=0,
                                 fontName=SANS + ("-Bold" if n == 0 else ""), spaceBefore=6 if n == 0 else 1,
                                 spaceAfter=1) for n in range(3)),
    )


class _Brief:
    """Blocks to flowables, inlines to reportlab paragraph markup (escaped)."""

    def __init__(self, doc: Document, theme: Theme) -> None:
        self.doc, self.theme = doc, theme
        self.styles = stylesheet(theme, doc.meta.language)
        self.cited: set[int] = set()
        self.heading_count = 0
        self.outline: list[tuple[int, str, str]] = []  # (level, title, key) of every heading, in order
        self.frame_height = self.width = 0.0  # set by render_brief before any flowable is made
        self.bold = self.italic = False  # inside <b> / <i> while marking up
        self.heading_break: CondPageBreak | None = None  # the break before the heading just made
        self.tags = Tags()  # the structure tree, made as the model is walked
        cmaps = [(family, set(pdfmetrics.getFont(family).face.charToGlyph)) for family in (SERIF, SANS, MONO)]
        self.fallback = cmaps
        self.common = set.intersection(*(c for _, c in cmaps))

    # inlines -----------------------------------------------------------------

    def markup(self, inlines: tuple[Inline, ...]) -> str:
        return "".join(self._markup(n) + (self._superscript(NOTE_SEPARATOR) if cites_next(inlines, i) else "")
                       for i, n in enumerate(inlines))

    def text(self, text: str) -> str:
        """Escaped text; a character the current font lacks is set in the first theme font that has it."""
        if text.isascii() or self.common.issuperset(map(ord, text)):
            return escape(text)
        out = []
        for ch in text:
            family = ord(ch) not in self.common and next((f for f, cmap in self.fallback if ord(ch) in cmap), None)
            if not family:
                out.append(escape(ch))
                continue
            variant = "" if family == MONO else _SUFFIX[self.bold, self.italic]
            out.append(f'<font face="{family}{variant}">{escape(ch)}</font>')
        return "".join(out)

    def _superscript(self, markup: str) -> str:
        return f'<super><font size="{self.theme.size.body * 0.62:.1f}">{markup}</font></super>'

    def _markup(self, node: Inline) -> str:
        match node:
            case Text(text):
                return self.text(text)
            case Emph(children):
                self.italic = not self.italic
                inner = self.markup(children)
                self.italic = not self.italic
                return "<i>" + inner + "</i>"
            case Strong(children):
                bold, self.bold = self.bold, True
                inner = self.markup(children)
                self.bold = bold
                return "<b>" + inner + "</b>"
            case Code(text):
                return f'<font face="{MONO}">{escape(text)}</font>'
            case LineBreak():
                return "<br/>"
            case Link(children, url):
                text = plain_text(children)
                self.tags.describe(url, url if text in url else f"{text} ({url})")
                pieces = address_pieces(node)
                # an address breaks only at its marks (see _Paragraph), never hyphenated (nobr)
                shown = ("<nobr>" + ADDRESS_BREAK.join(map(self.text, pieces)) + "</nobr>" if pieces
                         else self.markup(children))
                return f'<a href="{escape(url, {chr(34): "&quot;"})}" color="#{self.theme.colour.link}">{shown}</a>'

            case NoteRef(number=n):
                label = note_label(n, self.doc.meta.endnote_style)
                anchor = "" if n in self.cited else f'<a name="cite-{n}"/>'
                self.cited.add(n)
                self.tags.describe(f"note-{n}", f"{self.theme.labels.endnotes}: {label}")
                return anchor + self._superscript(f'<a href="#note-{n}" color="#{self.theme.colour.link}">{label}</a>')
        raise TypeError(f"brief: no case for {type(node).__name__}")

    # blocks ------------------------------------------------------------------

    def nested(self, block: Block, width: float) -> list:
        """Flowables for a block inside a list, quote or callout: headings there are bold text."""
        if isinstance(block, Heading):
            block = Paragraph((Strong(block.children),))
        return self.flowables(block, width)

    def paragraph(self, markup: str, style: ParagraphStyle, role: str = "P"):
        return self.tags.leaf(_Paragraph(markup, style), role)

    def flowables(self, block: Block, width: float) -> list:
        st = self.styles
        if not isinstance(block, Heading):
            self.heading_break = None
        match block:
            case Heading(level, children):
                self.heading_count += 1
                style = st.heading[min(level, 3) - 1]
                title = plain_text(children)
                p = self.paragraph(self.markup(children), style, f"H{min(level, 6)}")
                p.outline = (min(level, 3) - 1, title, f"h{self.heading_count}")
                self.outline.append(p.outline)
                # keep a heading off the page bottom: it moves with ~3 lines of what follows, and a
                # heading right under a heading joins the break of the first
                need = p.wrap(width, 1e6)[1] + style.spaceBefore + style.spaceAfter
                # (never more than half a page: a keep rule must not leave a page half empty)
                if self.heading_break is not None:
                    self.heading_break.height = min(self.heading_break.height + need, self.frame_height / 2)
                    return [p]
                self.heading_break = CondPageBreak(min(need + 3 * st.body.leading, self.frame_height / 2))
                return [self.heading_break, p]
            case Paragraph(children):
                return [self.paragraph(self.markup(children), st.body)]
            case BulletList() | OrderedList():
                return [self._list(block, width)]
            case Quote(blocks):
                out = []
                with self.tags.element("BlockQuote"):
                    for b in blocks:
                        out += ([self.paragraph(self.markup(b.children), st.quote)] if isinstance(b, Paragraph)
                                else self.nested(b, width - 36))
                return out
            case CodeBlock(text):
                # lines wrap at the width: a monospaced font's advance is 0.6 em (Courier New's metrics)
                columns = max(10, int((width - 2 * st.code.leftIndent - 12) / (0.6 * st.code.fontSize)))
                return [self.tags.leaf(Preformatted(text, st.code, maxLineLength=columns, newLineChars=""), "Code")]
            case Table():
                return [self._table(block, width)]
            case Callout(kind="figures"):
                return self._figures(block, width)
            case Callout():
                return self._callout(block, width)
            case Image(path, alt):
                return [self.tags.leaf(self._image(path, width), "Figure", alt=alt)]
            case Rule():
                return [self.tags.artifact(HRFlowable(width="100%", color=_hex(self.theme.colour.rule), thickness=0.8,
                                                      spaceBefore=6, spaceAfter=10))]
        raise TypeError(f"brief: no case for {type(block).__name__}")

    def _list(self, block: BulletList | OrderedList, width: float, element: bool = True) -> ListFlowable:
        """`element=False`: the items join an L already open (a list cut into one table row per item)."""
        st, ordered = self.styles, isinstance(block, OrderedList)
        items = []
        with self.tags.element("L") if element else nullcontext():
            for item in block.items:
                content = []
                with self.tags.element("LI"):
                    label = self.tags.node("Lbl")
                    with self.tags.element("LBody"):
                        for b in item:
                            content += ([self.paragraph(self.markup(b.children), st.bullet)] if isinstance(b, Paragraph)
                                        else self.nested(b, width - 18))
                if content:
                    content[0].label = label  # the bullet drawn beside it is this item's Lbl
                items.append(ListItem(content))
        kw = dict(bulletType="1", start=block.start) if ordered else dict(bulletType="bullet", start="•")
        return _TaggedList(self.tags, items, leftIndent=18, bulletFontName=SANS, bulletFontSize=st.body.fontSize,
                            bulletColor=_hex(self.theme.colour.primary), spaceAfter=6, **kw)

    def _table(self, block: Table, width: float):
        st, c = self.styles, self.theme.colour
        ncols = max([len(block.header)] + [len(r) for r in block.rows])
        align = {"left": TA_LEFT, "center": TA_CENTER, "right": TA_RIGHT}

        def cell(markup: str, col: int, head: bool) -> RLParagraph:
            style = st.cell_head if head else st.cell
            a = align.get(block.aligns[col] if col < len(block.aligns) else "left", TA_LEFT)
            return _Paragraph(markup, ParagraphStyle(f"c{a}{head}", parent=style, alignment=a))

        source = ((block.header,) if block.header else ()) + block.rows
        markup = [[self.markup(r[i]) if i < len(r) else "" for i in range(ncols)] for r in source]
        rows = [[cell(m, i, r == 0 and bool(block.header)) for i, m in enumerate(row)] for r, row in enumerate(markup)]
        if any(max(p.wrap(width / ncols - 12, 1e9)[1] for p in row) > self.frame_height * 0.8 for row in rows):
            # a row taller than a page cannot be drawn as a grid: stack its cells instead
            return KeepTogether([self.paragraph(m, st.body) for row in markup for m in row if m])
        with self.tags.element("Table"):
            for r, row in enumerate(rows):
                head = r == 0 and bool(block.header)
                with self.tags.element("TR"):
                    row[:] = [self.tags.leaf(p, "TH", scope="Column") if head else self.tags.leaf(p, "TD")
                              for p in row]
        # a header repeats on each page unless it is too long to leave room for rows
        repeat = 1 if block.header and sum(len(plain_text(h)) for h in block.header) < 200 else 0
        table = RLTable(rows, colWidths=[width / ncols] * ncols, repeatRows=repeat, hAlign="LEFT", spaceAfter=8,
                        splitInRow=24)  # rows taller than a page split, 24 pt at least
        style = [_TABLE_FONT, ("GRID", (0, 0), (-1, -1), 0.5, _hex(c.rule)), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                 ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]
        if block.header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), _hex(c.primary)))
        table.setStyle(TableStyle(style))
        self.tags.table_decoration(table)
        return table

    def _callout(self, block: Callout, width: float) -> list:
        """A shaded box kept on one page; one taller than the rule allows continues with its title repeated."""
        c = self.theme.colour
        inner = width - 2 * _PAD
        rows = []
        with self.tags.element("Div"):
            if block.title:
                rows.append([self.paragraph(self.text(block.title), self.styles.callout_title)])
            for b in block.blocks:
                if isinstance(b, (BulletList, OrderedList)):
                    with self.tags.element("L"):
                        rows += [[self._list(type(b)((item,), *([b.start + i] if isinstance(b, OrderedList) else [])),
                                             inner, element=False)] for i, item in enumerate(b.items)]
                else:
                    rows += [[f] for f in self.nested(b, inner)]
        table = RLTable(rows, colWidths=[width], hAlign="LEFT", repeatRows=1 if block.title else 0,
                        splitInRow=24, spaceBefore=4, spaceAfter=12)  # rows taller than a page split, 24 pt at least
        table.setStyle(TableStyle([
            _TABLE_FONT, ("BACKGROUND", (0, 0), (-1, -1), _hex(c.callout_fill)),
            ("LINEBEFORE", (0, 0), (0, -1), 3, _hex(c.callout_border)),
            ("LEFTPADDING", (0, 0), (-1, -1), _PAD), ("RIGHTPADDING", (0, 0), (-1, -1), _PAD),
            ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ("TOPPADDING", (0, 0), (-1, 0), _PAD), ("BOTTOMPADDING", (0, -1), (-1, -1), _PAD),
        ]))
        self.tags.table_decoration(table)
        return [_Keep([table], self.frame_height)]

    def _figures(self, block: Callout, width: float) -> list:
        """Cards of equal height, up to three a row (see figure_rows), kept together."""
        figures = key_figures(block)
        if not figures:
            return []
        st, c = self.styles, self.theme.colour
        gap, cards, tables = 10, [], []
        narrowest = (width - gap * (max(figure_rows(len(figures))) - 1)) / max(figure_rows(len(figures))) - 2 * _PAD
        # a value never breaks: all values get the size at which the widest fits its card
        widest = max(pdfmetrics.stringWidth(plain_text(f.value), SANS + "-Bold", st.figure_value.fontSize) for f in figures)
        scale = min(1.0, narrowest / widest) if widest else 1.0
        value_style = ParagraphStyle("figure_value_fit", parent=st.figure_value, fontSize=st.figure_value.fontSize * scale,
                                     leading=st.figure_value.leading * scale)
        for fig in figures:
            with self.tags.element("Div"):
                card = [self.paragraph("<nobr>" + self.markup(fig.value) + "</nobr>", value_style),
                        self.paragraph(self.markup(fig.label), st.figure_label)]
                if fig.note:
                    card.append(self.paragraph(self.markup(fig.note), st.figure_note))
            cards.append(card)
        done, sizes = 0, []
        for count in figure_rows(len(cards)):
            col = (width - gap * (count - 1)) / count
            sizes += [col] * count
        height = max(sum(p.wrap(w - 2 * _PAD, 1e6)[1] + p.style.spaceAfter for p in card) for card, w in zip(cards, sizes))
        for count in figure_rows(len(cards)):
            col = (width - gap * (count - 1)) / count
            row = [x for card in cards[done:done + count] for x in (card, "")][:-1]
            widths = [x for _ in range(count) for x in (col, gap)][:-1]
            table = RLTable([row], colWidths=widths, rowHeights=[height + 2 * _PAD], hAlign="LEFT",
                            spaceBefore=4 if not done else gap, spaceAfter=12)
            style = [_TABLE_FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), _PAD),
                     ("RIGHTPADDING", (0, 0), (-1, -1), _PAD), ("TOPPADDING", (0, 0), (-1, -1), _PAD),
                     ("BOTTOMPADDING", (0, 0), (-1, -1), _PAD)]
            for i in range(0, len(widths), 2):
                style += [("BACKGROUND", (i, 0), (i, 0), _hex(c.callout_fill)),
                          ("LINEABOVE", (i, 0), (i, 0), 2.5, _hex(c.accent))]
            table.setStyle(TableStyle(style))
            self.tags.table_decoration(table)
            tables.append(table)
            done += count
        return [_Keep(tables, self.frame_height)]

    def _image(self, path: str, width: float) -> RLImage:
        """At its natural size (a pixel a point), scaled down to fit the frame's width and most of its height."""
        img = RLImage(path)
        scale = min(1.0, width / img.imageWidth, self.frame_height * 0.9 / img.imageHeight)
        return RLImage(path, width=img.imageWidth * scale, height=img.imageHeight * scale) if scale < 1 else img

    def endnotes(self) -> list:
        if not self.doc.endnotes:
            return []
        out = [PageBreak()] + self.flowables(Heading(1, (Text(self.theme.labels.endnotes),)), self.width)
        for note in self.doc.endnotes:
            label = note_label(note.number, self.doc.meta.endnote_style)
            self.tags.describe(f"cite-{note.number}", f"{label} \u2191")
            back = f'<a name="note-{note.number}"/><a href="#cite-{note.number}" color="#{self.theme.colour.link}">{label}</a>'
            with self.tags.element("Note"):
                paragraphs = [self.markup(b.children) if isinstance(b, (Paragraph, Heading)) else self.text(block_text(b))
                              for b in note.blocks] or [""]
                # a note is read whole: it moves to the next page rather than split (a long one splits)
                out.append(_Keep([self.paragraph(f"{back}\u2003{paragraphs[0]}", self.styles.endnote)]
                                 + [self.paragraph(p, self.styles.endnote) for p in paragraphs[1:]], self.frame_height))
        return out


MAX_HYPHENS = 2  # lines in a row that may end in a hyphen
MAX_SPLIT_TRIES = 8  # lines a split paragraph's first part may give up to fit
_PARSED = frozenset({"text", "frags", "bulletText", "debug"})  # what parsing a paragraph's markup sets


class _Paragraph(RLParagraph):
    """A paragraph with at most MAX_HYPHENS hyphenated lines in a row; one with more is set
    again without hyphenation (ragged right takes the slack). So is one with a line too long:
    reportlab's hyphenation splits a long address once, at a '/', and never splits the rest.

    ADDRESS_BREAK in the markup marks where a line may break inside an address: the paragraph
    is held as reportlab's words (as a split paragraph's second part is), with a word boundary
    and no space at each mark, and the mark itself is never drawn. A piece of an address wider
    than a whole line breaks before a '%' (an escape such as '%20' stays whole), only then anywhere.

    The markup is parsed when the paragraph is first used: the story waits for layout light,
    and a paragraph is parsed shortly before it is laid out and let go once drawn."""

    def __init__(self, text, style, bulletText=None, frags=None):  # noqa: N803 (reportlab's names)
        if frags is not None:  # a part of a split paragraph, made of the whole's words
            super().__init__(text, style, bulletText, frags)
            return
        self.style, self._markup, self._bullet = style, text, bulletText
        self.caseSensitive, self.encoding = 1, "utf8"
        if _LAYOUTS is not None:
            self._source = (text, bulletText, _style_key(style))

    def __getattr__(self, name):
        """Only for an attribute not set yet: parse the markup, if not done and the parse sets
        it, and look again."""
        if name not in _PARSED or "_markup" not in self.__dict__:
            raise AttributeError(name)
        markup, bullet = self.__dict__.pop("_markup"), self.__dict__.pop("_bullet")
        self._setup(markup, self.style, bullet or getattr(self.style, "bulletText", None), None, cleanBlockQuotedText)
        if not _processed_frags(self.frags) and any(ADDRESS_BREAK in getattr(f, "text", "") for f in self.frags):
            self.frags = _words_broken_at_marks(self.frags)
        return getattr(self, name)

    def wrap(self, availWidth, availHeight):  # noqa: N802 (reportlab's names)
        # platypus asks again at the same width (keep rules, splits, the frame): the lines stand
        if self.__dict__.get("_wrapped_width") != availWidth or "blPara" not in self.__dict__:
            source = self.__dict__.get("_source")
            if source is not None:
                if _LAYOUTS.recall(self, source + (availWidth,)):
                    return self.width, self.height
                self._own()
                before = dict(self.__dict__)
            width, height = super().wrap(availWidth, availHeight)
            if height != 0x7FFFFFFF:  # reportlab's "cannot fit here" is not kept
                self._wrapped_width = availWidth
                if source is not None:
                    _LAYOUTS.learn(self, source + (availWidth,), before)
            return width, height
        return self.width, self.height

    def split(self, availWidth, availHeight):  # noqa: N802 (reportlab's names)
        # The first part is set again on its own, and can then take more lines than it had within
        # the whole (a very long word cut, or hyphenated, differently): ask for a line less until it fits.
        room = availHeight
        source = self.__dict__.get("_source")
        self._own()
        for _ in range(MAX_SPLIT_TRIES):
            parts = super().split(availWidth, room)
            if len(parts) == 2 and source is not None:  # the parts of a split at the same line are the same
                for i, part in enumerate(parts):
                    part._source = source + (len(parts[0].blPara.lines), i)
            if len(parts) != 2 or parts[0].wrap(availWidth, availHeight)[1] <= availHeight:
                return parts
            room -= self.style.leading
        return []  # no first part fits here: the paragraph goes on to the next frame whole

    def _own(self) -> None:
        """A paragraph set from a kept layout shares that layout's objects (see _Layouts.recall),
        which drawing leaves as they are; it takes a copy of its own before it is split or set
        again, as splitting changes words in place."""
        shared = self.__dict__.pop("_shared", None)
        if shared is not None:
            self.__dict__.update(pickle.loads(shared))

    def breakLines(self, width):  # noqa: N802 (reportlab's name)
        if _processed_frags(self.frags):
            self.frags = _overlong_pieces_cut(self.frags, max(width) if isinstance(width, (list, tuple)) else width)
        lines = super().breakLines(width)
        if self.style.hyphenationLang and (_hyphen_run(lines) > MAX_HYPHENS or _overflows(lines)):
            style = self.style
            self.style = _unhyphenated(style)
            try:
                lines = super().breakLines(width)
            finally:
                self.style = style
        return lines


class _Layouts(Generations):
    """The paragraphs of the renders before, as laid out, kept by a process that renders the brief
    again and again (`watch`): what parsing and wrapping set on each paragraph, pickled as it was
    wrapped (before a split changes it), by markup, style and width, in the theme and language
    (the scope). A paragraph found here is neither parsed nor broken into lines again, and comes
    out the same bytes.

    An entry, [pickled state, the state unpickled once recalled or None], is unpickled once, when
    first recalled, and its objects are shared by every paragraph drawn from it; a paragraph takes
    a copy of its own before anything but drawing uses them (see _Paragraph._own)."""

    def __init__(self) -> None:
        super().__init__(MAX_KEPT_LAYOUTS, lambda key, entry: len(entry[0]))

    def recall(self, paragraph: _Paragraph, key: tuple) -> bool:
        entry = self.find(key)
        if entry is None:
            return False
        if entry[1] is None:
            entry[1] = pickle.loads(entry[0])
        paragraph.__dict__.pop("_markup", None)
        paragraph.__dict__.pop("_bullet", None)
        paragraph.__dict__.update(entry[1], _shared=entry[0])
        return True

    def learn(self, paragraph: _Paragraph, key: tuple, before: dict) -> None:
        """Keeps what parsing and wrapping set on the paragraph (`before` is its state before
        wrapping, which may have been parsed already)."""
        made = {k: v for k, v in paragraph.__dict__.items() if k in _PARSED or before.get(k, _Layouts) is not v}
        self.keep(key, [pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL), None])


MAX_KEPT_LAYOUTS = 32 * 2**20  # bytes of pickled paragraphs kept for the next render
_LAYOUTS: _Layouts | None = None


@contextmanager
def layouts_kept() -> Iterator[None]:
    """Within it, each render keeps its paragraphs' layouts for the next (see _Layouts), and its
    compressed streams and font subsets (see pdf_tags.kept)."""
    global _LAYOUTS
    saved, _LAYOUTS = _LAYOUTS, _Layouts()
    try:
        with pdf_tags.kept():
            yield
    finally:
        _LAYOUTS = saved


def _style_key(style: ParagraphStyle) -> tuple:
    """Every property of the style (a hyphenator as True: the language is in the scope), kept on
    the style object; a copy of the style carries the attribute along, and works out its own."""
    held = style.__dict__.get("_layout_key")
    if held is None or held[0] != id(style):
        held = style._layout_key = (id(style), tuple((name, callable(value) or value) for name in sorted(style.defaults)
                                                     for value in [getattr(style, name)]))
    return held[1]


def _words_broken_at_marks(frags) -> list:
    """Reportlab's words of the fragments, each cut at ADDRESS_BREAK into words with no space
    between them (only the last piece keeps the space, if any, that followed the word)."""
    out = []
    for word in _getFragWords(frags):
        if not any(ADDRESS_BREAK in text for _, text in word[1:]):
            out.append(word)
            continue
        piece: list = []
        for frag, text in word[1:]:
            for i, part in enumerate(text.split(ADDRESS_BREAK)):
                if i and piece:
                    out.append(_frag_word(piece, list))
                    piece = []
                if part or not text:  # an empty fragment (an anchor) stays in its word
                    piece.append((frag, part))
        if piece:
            out.append(_frag_word(piece, type(word)))
    return out


def _overlong_pieces_cut(words: list, width: float) -> list:
    """The words, with each piece of an address (set <nobr>) wider than `width` cut before each
    '%' it holds into words with no space between them."""
    out = []
    for word in words:
        if word[0] <= width or not any(getattr(frag, "nobr", False) for frag, _ in word[1:]):
            out.append(word)
            continue
        piece: list = []
        for frag, text in word[1:]:
            for i, part in enumerate(_BEFORE_PERCENT.split(text)):
                if i and piece and part:
                    out.append(_frag_word(piece, list))
                    piece = []
                if part or not text:
                    piece.append((frag, part))
        out.append(_frag_word(piece, type(word)))
    return out


_BEFORE_PERCENT = re.compile("(?=%)")


def _frag_word(pairs: list, kind: type) -> list:
    """A reportlab word: its width, then (fragment, text) pairs."""
    return kind([sum(pdfmetrics.stringWidth(t, f.fontName, f.fontSize) for f, t in pairs)] + pairs)


def _hyphen_run(para) -> int:
    """The longest run of consecutive lines ending in a hyphen."""
    longest = run = 0
    for line in para.lines:
        text = " ".join(line[1]) if para.kind == 0 else "".join(getattr(w, "text", "") for w in line.words)
        run = run + 1 if text.rstrip().endswith("-") else 0
        longest = max(longest, run)
    return longest


def _overflows(para) -> bool:
    return any((line[0] if para.kind == 0 else line.extraSpace) < -0.5 for line in para.lines)


def _unhyphenated(style: ParagraphStyle) -> ParagraphStyle:
    """The style without hyphenation, made once per style."""
    if getattr(style, "unhyphenated", None) is None:
        style.unhyphenated = ParagraphStyle(style.name + "_nohyphens", parent=style, hyphenationLang="")
    return style.unhyphenated


_PAD = 10  # inner padding of callouts and figure cards, the same on every side


class _Keep(KeepTogether):
    """Keeps its content on one page, moving it to the next unless that would leave more than
    half of this page empty; then (or when it is taller than a page) it splits where it stands."""

    def __init__(self, flowables: list, frame_height: float) -> None:
        super().__init__(flowables)
        self.frame_height = frame_height

    def split(self, aW, aH):  # noqa: N802 (reportlab's signature)
        self.wrap(aW, aH)
        if self._H > aH and aH > self.frame_height / 2:
            # split where it stands: the first flowable too must fit what is left of the page
            first, *rest = self._content
            pieces = first.split(aW, aH) if first.wrap(aW, aH)[1] > aH else [first]
            return pieces + rest if pieces else []
        return super().split(aW, aH)


class _Frame(Frame):
    """reportlab's frame, deep-copied (as platypus does each time it measures a list of flowables,
    a table cell's) value by value: its numbers and strings are kept as deepcopy keeps them,
    anything else is copied deep. The same copy, without deepcopy's generic walk."""

    def __deepcopy__(self, memo):
        copied = self.__class__.__new__(self.__class__)
        memo[id(self)] = copied
        copied.__dict__.update({name: value if type(value) in _ATOMIC else deepcopy(value, memo)
                                for name, value in self.__dict__.items()})
        return copied


_ATOMIC = frozenset((int, float, str, bool, type(None)))  # what deepcopy returns as it is


class _DocTemplate(BaseDocTemplate):
    """Registers headings with the contents page and the PDF outline."""

    def __init__(self, *args, contents: "_Contents", **kw):
        super().__init__(*args, **kw)
        self._last_level = -1
        self.contents = contents
        self._doSave = 0  # the page numbers are written after the last page, then the canvas is saved

    def afterFlowable(self, flowable):  # noqa: N802 (reportlab's name)
        entry = getattr(flowable, "outline", None)
        if entry is None:
            return
        level, title, key = entry
        level = min(level, self._last_level + 1)  # an outline cannot skip a level
        self._last_level = level
        self.canv.bookmarkPage(key)
        self.canv.tags.describe(key, title)
        self.canv.addOutlineEntry(title, key, level=level, closed=level > 0)
        if level <= 1:
            self.contents.addEntry(level, escape(title), self.page, key)


def contents_entries(outline: list[tuple[int, str, str]]) -> list[tuple[int, str, int, str]]:
    """The contents page's entries: sections and subsections (the PDF outline has all headings),
    levels clamped as the outline clamps them, pages not yet known."""
    entries, last = [], -1
    for level, title, key in outline:
        level = last = min(level, last + 1)
        if level <= 1:
            entries.append((level, escape(title), 0, key))
    return entries


class _Contents(TableOfContents):
    """The contents page, laid out before the pages it lists: its entries come from the headings,
    known before layout, and each entry's leader dots and page number are a form drawn where the
    entry ends and written once the pages are known, so one layout pass suffices."""

    def __init__(self, entries: list[tuple[int, str, int, str]], **kw) -> None:
        super().__init__(**kw)
        self._lastEntries = entries  # what wrap() lays out
        self.ends: dict[str, float] = {}  # key -> width from the entry's end to the margin

    def wrap(self, availWidth, availHeight):  # noqa: N802 (reportlab's names)
        size = super().wrap(availWidth, availHeight)

        def entry_end(canvas, kind, label):
            _, level, key = label.split(",")
            key = key.strip("'")
            x, y = canvas._curr_tx_info["cur_x"], canvas._curr_tx_info["cur_y"]
            self.ends[key] = availWidth - x
            canvas.saveState()
            canvas.translate(x, y)
            canvas.doForm(_page_form(key))
            canvas.restoreState()
            canvas.linkRect("", key, (x, y, availWidth, y + self.getLevelStyle(int(level)).leading), relative=1)

        self.canv.setNamedCB("drawTOCEntryEnd", entry_end)
        return size

    def write_pages(self, canvas: Canvas) -> None:
        """Each entry's dots and page number, set as reportlab's contents page sets them."""
        for level, _, page, key in self._entries:
            free = self.ends[key]
            style = self.getLevelStyle(level)
            number, size = str(page), style.fontSize
            while pdfmetrics.stringWidth(number, style.fontName, size) > free and size >= 1:
                size *= 0.9  # a title that ends at the margin leaves the number little room
            width = pdfmetrics.stringWidth(number, style.fontName, size)
            dot = pdfmetrics.stringWidth(_DOT, style.fontName, size)
            dots = max(int((free - width) / dot), 0)
            canvas.beginForm(_page_form(key), lowerx=0, lowery=-style.leading, upperx=max(free, 1), uppery=style.leading)
            text = canvas.beginText(free - width - dots * dot, 0)
            text.setFont(style.fontName, size)
            text.setFillColor(style.textColor)
            text.textLine(dots * _DOT + number)
            canvas.drawText(text)
            canvas.endForm()


_DOT = " . "


def _page_form(key: str) -> str:
    return f"page-of-{key}"


@contextmanager
def _flate_only() -> Iterator[None]:
    """Streams compressed with Flate alone: reportlab's default adds ASCII85, a quarter more bytes."""
    saved, rl_config.useA85 = rl_config.useA85, 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


@_flate_only()
def render_brief(doc: Document, theme: Theme) -> bytes:
    """Lay the brief out in one pass: the contents page is sized from the headings before layout,
    and its page numbers and each page's "Page N of M" are forms written after the last page.
    (A second pass runs only if the headings drawn differ from those foreseen.)"""
    _register_fonts(theme)
    if _LAYOUTS is not None:
        _LAYOUTS.begin((theme, doc.meta.language))
    st, m, c = stylesheet(theme, doc.meta.language), doc.meta, theme.colour
    pagesize = A4 if theme.page.size.lower() == "a4" else LETTER
    pw, ph = pagesize
    left, right = theme.page.margin_left * inch, theme.page.margin_right * inch
    top, bottom = theme.page.margin_top * inch, theme.page.margin_bottom * inch
    width = pw - left - right
    toc_style = TableStyle([_TABLE_FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)])

    def furniture(canv: Canvas, doc) -> None:
        if doc.page == 1:
            return
        with canv.tags.drawing_artifact(canv):  # running header and footer
            canv.saveState()
            canv.setFont(SANS, theme.size.small)
            canv.setFillColor(_hex(c.muted))
            canv.drawString(left, ph - top + 22, m.short_title)
            canv.setStrokeColor(_hex(c.rule))
            canv.setLineWidth(0.6)
            canv.line(left, ph - top + 16, pw - right, ph - top + 16)
            canv.translate(pw - right, bottom - 28)
            canv.doForm(f"page-{doc.page}")  # "Page N of M", written when M is known
            canv.restoreState()

    def page_numbers(canv: Canvas, total: int) -> None:
        for page in range(2, total + 1):
            canv.beginForm(f"page-{page}", lowerx=-width, lowery=-theme.size.small, upperx=0, uppery=theme.size.small * 2)
            canv.setFont(SANS, theme.size.small)
            canv.setFillColor(_hex(c.muted))
            canv.drawRightString(0, 0, f"{theme.labels.page} {page} {theme.labels.of} {total}")
            canv.endForm()

    def story(brief: _Brief, toc: _Contents) -> list:
        brief.frame_height, brief.width = ph - top - bottom, width
        tags = brief.tags
        out: list = [Spacer(1, 1.9 * inch), brief.paragraph(brief.text(m.title), st.title, "H1"),
                     tags.artifact(HRFlowable(width="45%", thickness=3, color=_hex(c.accent), hAlign="LEFT",
                                              spaceBefore=2, spaceAfter=18))]
        for text, style in ((m.subtitle, st.cover_strong), (m.organization, st.cover_strong), (m.when, st.cover)):
            if text:
                out.append(brief.paragraph(brief.text(text), style))
        if m.supervisor:
            out += [Spacer(1, 0.6 * inch), brief.paragraph(brief.text(f"{theme.labels.supervised_by} {m.supervisor}"), st.body)]
        if m.authors:
            out += [Spacer(1, 6), brief.paragraph(brief.text(", ".join(m.authors)), st.body)]
        out += [NextPageTemplate("body"), PageBreak(), brief.paragraph(escape(theme.labels.contents), st.heading[0], "H1")]
        with tags.element("TOC"):
            out += [tags.leaf(toc, "TOCI"), PageBreak()]
        for block in doc.blocks:
            out += brief.flowables(block, width)
        out += brief.endnotes()
        toc._lastEntries = toc._lastEntries or contents_entries(brief.outline)  # before layout: wrap() sets them
        return out

    entries: list = []
    for _ in range(2):
        brief = _Brief(doc, theme)  # a fresh structure tree each pass: only the last pass's drawing counts
        toc = _Contents(entries, levelStyles=list(st.toc), dotsMinLevel=0, tableStyle=toc_style)
        out = io.BytesIO()
        template = _DocTemplate(
            out, pagesize=pagesize, leftMargin=left, rightMargin=right, topMargin=top, bottomMargin=bottom,
            title=m.title, author="; ".join(m.authors), subject=m.subject, keywords=", ".join(m.keywords),
            creator=f"briefkit{(' for ' + m.organization) if m.organization else ''}", lang=m.language,
            invariant=1, initialFontName=SERIF, contents=toc)
        frame = _Frame(left, bottom, width, ph - top - bottom, id="body", leftPadding=0, rightPadding=0,
                       topPadding=0, bottomPadding=0)
        template.addPageTemplates([PageTemplate(id="cover", frames=[frame], onPage=furniture),
                                   PageTemplate(id="body", frames=[frame], onPage=furniture)])
        template.build(story(brief, toc), canvasmaker=_stamped_canvas(m, brief.tags))
        drawn = [(level, title, 0, key) for level, title, _, key in toc._entries]
        if drawn == toc._lastEntries:
            break
        entries = drawn  # a heading foreseen was not drawn where expected: lay out again with what was
    toc.write_pages(template.canv)
    page_numbers(template.canv, template.page)
    template.canv.save()  # written with the structure tree (see write_pdf)
    return out.getvalue()


def _stamped_canvas(meta: Meta, tags: Tags):
    """Open with the outline shown; dates from the build's timestamp (invariant mode fixes the rest).

    Each link annotation is recorded with the structure node being drawn when it is made, and
    the document is saved with its structure tree.
    """
    when = build_time(meta)

    class StampedCanvas(Canvas):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self.tags = tags
            self.showOutline()
            self.setDateFormatter(lambda *_: when.strftime("D:%Y%m%d%H%M%S+00'00'"))

        def linkRect(self, contents, destinationname, *args, **kw):  # noqa: N802 (reportlab's names)
            super().linkRect(contents, destinationname, *args, **kw)
            self.tags.annotation(self, destinationname)

        def linkURL(self, url, *args, **kw):  # noqa: N802
            super().linkURL(url, *args, **kw)
            self.tags.annotation(self, url)

        def save(self):
            self._doc.format = lambda: write_pdf(self._doc, tags, title=meta.title, lang=meta.language)
            with pdf_tags.saving():
                super().save()

    return StampedCanvas


class _TaggedList(ListFlowable):
    """A list whose bullets and numbers are drawn as their items' Lbl (decorative when an item has none)."""

    def __init__(self, tags: Tags, *args, **kw):
        self._tags = tags
        super().__init__(*args, **kw)

    def _makeLIIndenter(self, flowable, bullet, params=None):  # noqa: N802 (reportlab's name)
        if bullet is not None:
            bullet = TaggedBullet(bullet, self._tags, getattr(flowable, "label", None))
        return super()._makeLIIndenter(flowable, bullet, params)

