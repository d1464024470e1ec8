"""Plan the deck: which text goes on which slide, measured so that nothing overflows.

Document -> tuple[Slide, ...]. Text is measured with the theme's TrueType fonts (Pillow,
glyph widths cached per word) against the box it will be placed in; what does not fit
continues on a "(cont.)" slide. No python-pptx here: deck_pptx only places the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from PIL import ImageFont

from briefkit.model import (NOTE_SEPARATOR, Block, BulletList, Callout, Code, CodeBlock, Document, Emph, Endnote, Heading, Image,
                            Inline, KeyFigure, LineBreak, Link, NoteRef, OrderedList, Paragraph, Quote, Rule,
                            Strong, Table, Text, block_text, cites_next, key_figures, note_label, plain_text)
from briefkit.theme import Theme

# Slide geometry, inches (16:9).
SLIDE_W, SLIDE_H = 13.333, 7.5
MARGIN_X = 0.6
TITLE_TOP, TITLE_H = 0.35, 1.05
BODY_TOP, BODY_BOTTOM = 1.6, 6.75
INSET_X, INSET_Y = 0.1, 0.05
LINE = 1.2          # line pitch as a multiple of font size (set exactly on every paragraph)
PARA_AFTER = 0.45   # space after a paragraph, as a multiple of font size
BULLET_INDENT = 0.35  # inches per list level
SUPER = 0.6         # superscript size relative to its text
SAFETY = 1.04       # measured widths are padded for renderer differences
MAX_FIGURES = 3


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    superscript: bool = False
    url: str = ""


@dataclass(frozen=True, slots=True)
class Para:
    runs: tuple[Run, ...]
    level: int = 0          # 0: plain paragraph; 1, 2, ...: list depth
    bullet: str = ""        # "•", or "3." for ordered lists


@dataclass(frozen=True, slots=True)
class Box:
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Slide:
    kind: str                   # title | section | content | figures | endnotes | image
    title: str
    title_size: float = 0.0     # points; set by plan_deck so the title fits its box
    subtitle: str = ""
    paras: tuple[Para, ...] = ()
    size: float = 0.0           # font size of paras, points
    figures: tuple[KeyFigure, ...] = ()
    image: str = ""
    notes: str = ""
    body: Box = field(default_factory=lambda: body_box())


# Measuring ---------------------------------------------------------------------


class Measure:
    """Line-wrapping and heights with real glyph widths of the theme's fonts."""

    def __init__(self, theme: Theme) -> None:
        self._files = {(False, False): theme.font_file("regular"), (True, False): theme.font_file("bold"),
                       (False, True): theme.font_file("italic"), (True, True): theme.font_file("bold_italic")}
        self._fonts: dict[tuple[bool, bool], ImageFont.FreeTypeFont] = {}
        self._widths: dict[tuple[str, bool, bool], float] = {}  # per word: the same words recur

    def _font(self, bold: bool, italic: bool) -> ImageFont.FreeTypeFont:
        key = (bold, italic)
        if key not in self._fonts:
            self._fonts[key] = ImageFont.truetype(str(self._files[key]), 100)
        return self._fonts[key]

    def _width100(self, text: str, bold: bool, italic: bool) -> float:
        key = (text, bold, italic)
        width = self._widths.get(key)
        if width is None:
            width = self._widths[key] = self._font(bold, italic).getlength(text)
        return width

    def width(self, text: str, size: float, bold: bool = False, italic: bool = False) -> float:
        """Width in points of `text` at `size` points."""
        return self._width100(text, bold, italic) * size / 100 * SAFETY

    def lines(self, runs: tuple[Run, ...], size: float, width_pt: float) -> int:
        """How many lines the runs take when wrapped at spaces (long words break anywhere)."""
        lines, x = 1, 0.0
        for word, space in _words(runs, size, self):
            if word is None:  # explicit line break
                lines, x = lines + 1, 0.0
                continue
            if x and x + word > width_pt:
                lines, x = lines + 1, 0.0
            while word > width_pt:  # a word longer than the line breaks across lines
                word -= width_pt
                lines += 1
            x += word + space
        return lines

    def para_height(self, para: Para, size: float, width_in: float, after: bool = True) -> float:
        """Height in inches of one paragraph, with the space after it unless `after` is false."""
        text_width = (width_in - 2 * INSET_X - para.level * BULLET_INDENT) * 72
        return (self.lines(para.runs, size, text_width) * size * LINE + (size * PARA_AFTER if after else 0)) / 72

    def fits(self, paras: tuple[Para, ...], size: float, box: Box, after: bool = True) -> bool:
        return sum(self.para_height(p, size, box.width, after) for p in paras) <= box.height - 2 * INSET_Y


def _words(runs: tuple[Run, ...], size: float, m: Measure):
    """(word width, width of the space after it) in points, or (None, 0) for a line break.

    A word may span runs ("Mexico" then a superscript note label): no break between them.
    """
    word = 0.0
    for run in runs:
        s = size * (SUPER if run.superscript else 1)
        for piece in _PIECES.split(run.text):
            if piece == " ":
                yield word, m.width(" ", s, run.bold, run.italic)
                word = 0.0
            elif piece == "\n":
                yield word, 0.0
                yield None, 0.0
                word = 0.0
            elif piece:
                word += m.width(piece, s, run.bold, run.italic)
    if word:
        yield word, 0.0


_PIECES = re.compile(r"( |\n)")


# Inlines to runs -----------------------------------------------------------------


def runs_of(inlines: tuple[Inline, ...], style: str, bold: bool = False, italic: bool = False, url: str = "") -> tuple[Run, ...]:
    out: list[Run] = []
    for i, node in enumerate(inlines):
        if i and cites_next(inlines, i - 1):
            out.append(Run(NOTE_SEPARATOR, superscript=True))
        match node:
            case Text(text):
                out.append(Run(text, bold, italic, url=url))
            case Emph(children):
                out += runs_of(children, style, bold, not italic, url)
            case Strong(children):
                out += runs_of(children, style, True, italic, url)
            case Code(text):
                out.append(Run(text, bold, italic, code=True, url=url))
            case Link(children, link):
                out += runs_of(children, style, bold, italic, link)
            case LineBreak():
                out.append(Run("\n", bold, italic))
            case NoteRef(number=n):
                out.append(Run(note_label(n, style), superscript=True))
            case _:
                raise TypeError(f"deck: no case for {type(node).__name__}")
    return tuple(out)


def _paras(block: Block, style: str, level: int = 0) -> list[Para]:
    match block:
        case Paragraph(children) | Heading(children=children):
            bold = isinstance(block, Heading)
            return [Para(runs_of(children, style, bold=bold), level)]
        case BulletList(items) | OrderedList(items):
            out = []
            for i, item in enumerate(items):
                mark = f"{block.start + i}." if isinstance(block, OrderedList) else "•"
                for j, b in enumerate(item):
                    sub = _paras(b, style, level + 1)
                    if j == 0 and sub and isinstance(b, Paragraph):
                        sub[0] = replace(sub[0], bullet=mark)
                    out += sub
            return out
        case Quote(blocks):
            return [replace(p, runs=tuple(replace(r, italic=True) for r in p.runs)) for b in blocks for p in _paras(b, style, level)]
        case CodeBlock(text):
            return [Para((Run(line, code=True),), level) for line in text.split("\n")]
        case Table(header, rows):
            return [Para(tuple(r for i, c in enumerate(row) for r in ((Run(" · "),) if i else ()) + runs_of(c, style)), level + 1, "•")
                    for row in ((header,) if header else ()) + rows]
        case Callout(title=title, blocks=blocks):
            head = [Para((Run(title, bold=True),), level)] if title else []
            return head + [p for b in blocks for p in _paras(b, style, level)]
    return []


# Planning ----------------------------------------------------------------------


@dataclass
class _Draft:
    kind: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    figures: tuple[KeyFigure, ...] = ()
    notes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)


def _drafts(doc: Document) -> list[_Draft]:
    drafts: list[_Draft] = []
    current: _Draft | None = None
    for block in doc.blocks:
        match block:
            case Heading(level=1, children=c):
                drafts.append(_Draft("section", plain_text(c)))
                current = None
            case Heading(children=c) if block.level == 2 or current is None:
                current = _Draft("content", plain_text(c))
                drafts.append(current)
            case Rule():
                if current is not None:
                    current = _Draft("content", current.title)
                    drafts.append(current)
            case _:
                if current is None:
                    current = _Draft("content", drafts[-1].title if drafts else doc.meta.short_title)
                    drafts.append(current)
                if isinstance(block, Callout) and block.kind == "notes":
                    current.notes += [block_text(b) for b in block.blocks]
                elif isinstance(block, Callout) and block.kind == "figures":
                    current.figures += key_figures(block)
                elif isinstance(block, Image):
                    current.images.append(block.path)
                else:
                    current.blocks.append(block)
    return drafts


def plan_deck(doc: Document, theme: Theme) -> tuple[Slide, ...]:
    measure = Measure(theme)
    style, labels = doc.meta.endnote_style, theme.labels
    m = doc.meta
    subtitle = "\n".join(x for x in (m.subtitle, m.organization, m.term) if x)
    byline = "; ".join(m.authors)
    title_notes = "\n".join(x for x in (m.title, subtitle, byline, f"{labels.supervised_by} {m.supervisor}" if m.supervisor else "") if x)
    slides: list[Slide] = [Slide("title", m.title, subtitle=subtitle, notes=title_notes)]
    for d in _drafts(doc):
        notes = "\n".join(n for n in d.notes if n)
        if d.kind == "section":
            slides.append(Slide("section", d.title, notes=notes or d.title))
            continue
        paras = tuple(p for b in d.blocks for p in _paras(b, style))
        text_notes = notes or "\n".join("".join(r.text for r in p.runs) for p in paras)
        if paras or not (d.figures or d.images):
            slides += _fit(d.title, paras, theme, measure, labels.continued, text_notes)
        for i in range(0, len(d.figures), MAX_FIGURES):
            title = d.title if i == 0 else f"{d.title} {labels.continued}"
            slides.append(Slide("figures", title, figures=d.figures[i:i + MAX_FIGURES], notes=notes or title))
        slides += [Slide("image", d.title, image=path, notes=notes or d.title) for path in d.images]
    slides += _endnote_slides(doc.endnotes, theme, measure, style)
    return tuple(replace(s, title_size=_title_size(s, theme, measure)) for s in slides)


def body_box() -> Box:
    """Where a content slide's text goes (the master's body placeholder)."""
    return Box(MARGIN_X, BODY_TOP, SLIDE_W - 2 * MARGIN_X, BODY_BOTTOM - BODY_TOP)


def title_box(kind: str) -> Box:
    if kind == "title":
        return Box(0.9, 1.7, SLIDE_W - 1.8, 2.2)
    if kind == "section":
        return Box(0.9, 2.5, SLIDE_W - 1.8, 1.9)
    return Box(MARGIN_X, TITLE_TOP, SLIDE_W - 2 * MARGIN_X, TITLE_H)


def _title_size(slide: Slide, theme: Theme, measure: Measure) -> float:
    """The largest size, from the theme's down to the body floor, at which the title fits."""
    start = {"title": theme.deck.section_size, "section": theme.deck.section_size}.get(slide.kind, theme.deck.title_size)
    box, para = title_box(slide.kind), Para((Run(slide.title, bold=True),))
    size = start
    while size > theme.deck.min_body_size and not measure.fits((para,), size, box, after=False):
        size -= 2
    return size


def _fit(title: str, paras: tuple[Para, ...], theme: Theme, measure: Measure, cont: str, notes: str) -> list[Slide]:
    """One slide at the largest size from body down to the floor; else continue at body size."""
    box = Slide("content", title).body
    sizes = []
    size = theme.deck.body_size
    while size >= max(theme.deck.min_body_size, theme.deck.body_size - 4):
        sizes.append(size)
        size -= 2
    for size in sizes:
        if measure.fits(paras, size, box):
            return [Slide("content", title, paras=paras, size=size, notes=notes)]
    return _paginate(title, paras, theme.deck.body_size, box, measure, cont, notes, "content")


def _paginate(title: str, paras: tuple[Para, ...], size: float, box: Box, measure: Measure, cont: str,
              notes: str, kind: str) -> list[Slide]:
    pages: list[list[Para]] = [[]]
    room = box.height - 2 * INSET_Y
    used = 0.0
    queue = list(paras)
    while queue:
        para = queue.pop(0)
        h = measure.para_height(para, size, box.width)
        if used + h <= room:
            pages[-1].append(para)
            used += h
            continue
        if pages[-1] and h <= room:
            pages.append([])
            used = 0.0
            queue.insert(0, para)
            continue
        head, tail = _split_para(para, size, box, room - used, measure)
        if head is None:
            if not pages[-1]:
                raise AssertionError("a single line does not fit a slide")  # guarded by geometry
            pages.append([])
            used = 0.0
            queue.insert(0, para)
            continue
        pages[-1].append(head)
        pages.append([])
        used = 0.0
        queue.insert(0, tail)
    return [Slide(kind, title if i == 0 else f"{title} {cont}", paras=tuple(p), size=size, notes=notes)
            for i, p in enumerate(pages) if p]


def _split_para(para: Para, size: float, box: Box, room: float, measure: Measure) -> tuple[Para | None, Para]:
    """The longest head of `para` (at a word boundary) that fits in `room` inches, and the rest."""
    words = _split_runs(para.runs)
    lo, hi, best = 1, len(words), 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if measure.para_height(replace(para, runs=_join(words[:mid])), size, box.width) <= room:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    if best == 0:
        if room < box.height - 2 * INSET_Y:
            return None, para
        return _split_long_word(para, size, box, room, measure)
    return replace(para, runs=_join(words[:best])), replace(para, runs=_join(words[best:]), bullet="")


def _split_long_word(para: Para, size: float, box: Box, room: float, measure: Measure) -> tuple[Para, Para]:
    """A single word taller than a whole slide: cut it by characters."""
    first = para.runs[0]
    lo, hi, best = 1, len(first.text), 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if measure.para_height(replace(para, runs=(replace(first, text=first.text[:mid]),)), size, box.width) <= room:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    head = replace(para, runs=(replace(first, text=first.text[:best]),))
    rest = (replace(first, text=first.text[best:]),) + para.runs[1:]
    return head, replace(para, runs=rest, bullet="")


def _split_runs(runs: tuple[Run, ...]) -> list[tuple[Run, ...]]:
    """Runs cut into words, each keeping its trailing space."""
    words: list[list[Run]] = [[]]
    for run in runs:
        parts = run.text.split(" ")
        for i, part in enumerate(parts):
            text = part + (" " if i < len(parts) - 1 else "")
            if text:
                words[-1].append(replace(run, text=text))
            if i < len(parts) - 1:
                words.append([])
    return [tuple(w) for w in words if w]


def _join(words: list[tuple[Run, ...]]) -> tuple[Run, ...]:
    runs = [r for w in words for r in w]
    if runs:
        runs[-1] = replace(runs[-1], text=runs[-1].text.rstrip(" ") or runs[-1].text)
    return tuple(runs)


def _endnote_slides(endnotes: tuple[Endnote, ...], theme: Theme, measure: Measure, style: str) -> list[Slide]:
    if not endnotes:
        return []
    paras = []
    for note in endnotes:
        label = Run(note_label(note.number, style) + "\u2002", bold=True)
        body: list[Run] = []
        for b in note.blocks:
            for p in _paras(b, style):
                body += ([Run(" ")] if body else []) + list(p.runs)
        paras.append(Para((label, *body)))
    box = Slide("endnotes", "").body
    size = theme.deck.min_body_size
    slides = _paginate(theme.labels.endnotes, tuple(paras), size, box, measure, theme.labels.continued, "", "endnotes")
    return [replace(s, notes="\n".join("".join(r.text for r in p.runs) for p in s.paras)) for s in slides]
