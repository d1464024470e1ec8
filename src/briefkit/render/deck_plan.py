"""Plan the deck: which text goes on which slide, measured so that nothing overflows.

Document -> tuple[Slide, ...]. Text is measured with the theme's TrueType fonts (Pillow,
glyph widths cached per word) against the box it will be placed in; what does not fit
continues on a "(cont.)" slide. No python-pptx here: deck_pptx only places the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import ImageFont

from briefkit.kept import keep
from briefkit.model import (ADDRESS_BREAK, NOTE_SEPARATOR, Block, BulletList, Callout, Code, CodeBlock, Document, Emph, Endnote, Heading, Image,
                            Inline, KeyFigure, LineBreak, Link, NoteRef, OrderedList, Paragraph, Quote, Rule,
                            Strong, Table, Text, address_pieces, block_text, cites_next, key_figures, note_label, note_refs,
                            plain_text)
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
SOURCE_WORDS = 8    # words of a note's text in a slide's sources line
FOOT_GAP = 0.1      # inches between a slide's body and its sources line
FOOT_SLACK = 0.06   # inches of room beyond the sources line's measured height
FOOT_SHARE = 0.3    # the most of a body's height its sources line may take
SOURCE_CHARS = 80   # characters of a note's text in a sources line, at most


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    superscript: bool = False
    url: str = ""
    note: int = 0           # a note marker's note number


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
    alt: str = ""               # the image's alt text
    notes: tuple[Para, ...] = ()  # talking points (bullets), then the sources the slide cites
    sources: tuple[Para, ...] = ()  # at the foot of the slide, in small type
    body: Box = field(default_factory=lambda: body_box())


# Measuring ---------------------------------------------------------------------


class Measure:
    """Line-wrapping and heights with real glyph widths of the theme's fonts."""

    @classmethod
    def of(cls, theme: Theme) -> Measure:
        """The measure of the theme's fonts, one per process and version of the font files: `watch`
        measures again only the text that changed."""
        files = tuple(theme.font_file(style) for style in ("regular", "bold", "italic", "bold_italic"))
        key = tuple((path, path.stat().st_mtime) for path in files)
        if key not in _MEASURES:
            keep(_MEASURES, key, cls(*files), 1)
        measure = _MEASURES[key]
        if len(measure._lines) > MAX_MEASURED:
            measure._lines.clear()
        return measure

    def __init__(self, regular: Path, bold: Path, italic: Path, bold_italic: Path) -> None:
        self._files = {(False, False): regular, (True, False): bold, (False, True): italic, (True, True): bold_italic}
        self._fonts: dict[tuple[bool, bool], ImageFont.FreeTypeFont] = {}
        self._widths: dict[tuple[str, bool, bool], float] = {}  # per word: the same words recur
        self._lines: dict[tuple[tuple[Run, ...], float, float], int] = {}  # a paragraph is tried in several boxes

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
        """How many lines the runs take when wrapped at spaces and at an address's zero width
        spaces (a word or piece longer than a line breaks anywhere)."""
        key = (runs, size, width_pt)
        found = self._lines.get(key)
        if found is None:
            found = self._lines[key] = self._count_lines(runs, size, width_pt)
        return found

    def _count_lines(self, runs: tuple[Run, ...], size: float, width_pt: float) -> int:
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


_MEASURES: dict[tuple, Measure] = {}
MAX_MEASURED = 100_000  # paragraphs' line counts a process keeps


def _words(runs: tuple[Run, ...], size: float, m: Measure):
    """(word width, width of the space after it) in points, or (None, 0) for a line break; an
    address's pieces are words with no space after them.

    A word may span runs ("Mexico" then a superscript note label): no break between them.
    """
    word = 0.0
    for run in runs:
        s = size * (SUPER if run.superscript else 1)
        for piece in _PIECES.split(run.text):
            if piece == " ":
                yield word, m.width(" ", s, run.bold, run.italic)
                word = 0.0
            elif piece == ADDRESS_BREAK:
                yield word, 0.0
                word = 0.0
            elif piece == "\n":
                yield word, 0.0
                yield None, 0.0
                word = 0.0
            elif piece:
                word += m.width(piece, s, run.bold, run.italic)
    if word:
        yield word, 0.0


_PIECES = re.compile(f"( |\n|{ADDRESS_BREAK})")


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
                # an address: a run per piece, each but the last ending in a zero width space
                # (LibreOffice holds a linked run as one field it never breaks inside)
                pieces = address_pieces(node)
                out += [Run(piece + ADDRESS_BREAK * (j < len(pieces) - 1), bold, italic, url=link)
                        for j, piece in enumerate(pieces)]
                if not pieces:
                    out += runs_of(children, style, bold, italic, link)
            case LineBreak():
                out.append(Run("\n", bold, italic))
            case NoteRef(number=n):
                out.append(Run(note_label(n, style), superscript=True, note=n))
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
    notes: list[Block] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)


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
            case Callout(kind="notes") if current is None and drafts and drafts[-1].kind == "section":
                drafts[-1].notes += block.blocks  # what the section argues
            case _:
                if current is None:
                    current = _Draft("content", drafts[-1].title if drafts else doc.meta.short_title)
                    drafts.append(current)
                if isinstance(block, Callout) and block.kind == "notes":
                    current.notes += block.blocks
                elif isinstance(block, Callout) and block.kind == "figures":
                    current.figures += key_figures(block)
                elif isinstance(block, Image):
                    current.images.append(block)
                else:
                    current.blocks.append(block)
    return drafts


class _Planner:
    """Turns drafts into slides within the theme's density budget."""

    def __init__(self, doc: Document, theme: Theme) -> None:
        self.doc, self.theme, self.measure = doc, theme, Measure.of(theme)
        self.style, self.labels, self.deck = doc.meta.endnote_style, theme.labels, theme.deck
        self.endnotes = {n.number: n for n in doc.endnotes}

    def plan(self) -> tuple[Slide, ...]:
        m, labels = self.doc.meta, self.labels
        subtitle = "\n".join(x for x in (m.subtitle, m.organization, m.when) if x)
        byline = "; ".join(m.authors)
        title_notes = [x for x in (m.title, subtitle.replace("\n", ", "), byline,
                                   f"{labels.supervised_by} {m.supervisor}" if m.supervisor else "") if x]
        slides: list[Slide] = [Slide("title", m.title, subtitle=subtitle, notes=_bullets(title_notes))]
        drafts = _drafts(self.doc)
        for i, d in enumerate(drafts):
            if d.kind == "section":
                slides.append(Slide("section", d.title, notes=self._section_notes(d, drafts[i + 1:])))
                continue
            slides += self._content(d)
        slides = [s for s, after in zip(slides, slides[1:] + [None])  # a section with no slide in it is left out
                  if s.kind != "section" or (after is not None and after.kind != "section")]
        slides += [replace(s, notes=self._talking_points(list(s.notes)))
                   for s in _endnote_slides(self.doc.endnotes, self.theme, self.measure, self.style)]
        return tuple(replace(s, title_size=_title_size(s, self.theme, self.measure)) for s in slides)

    # notes ---------------------------------------------------------------------

    def _talking_points(self, items: list[Para], cited: set[int] = frozenset()) -> tuple[Para, ...]:
        """Bullets within the notes budget, then the sources cited on the slide by their numbers.

        The points used are taken off `items`, so that a continued slide goes on with the rest."""
        budget, out, used = int(self.deck.notes_words), [], 0
        while items:
            words = _word_count(items[0].runs)
            if used + words > budget:
                if not out:  # one long point: its first words
                    item = items.pop(0)
                    out.append(replace(item, runs=_first_words(item.runs, budget)))
                break
            out.append(items.pop(0))
            used += words
        return tuple(out) + tuple(Para((Run(line),)) for line in self._sources(cited)[:1])

    def _section_notes(self, d: _Draft, following: list[_Draft]) -> tuple[Para, ...]:
        """The section's own notes, else the lead of each slide it holds: what it argues."""
        if d.notes:
            return self._talking_points(_note_items(d.notes))
        leads = []
        for f in following:
            if f.kind == "section":
                break
            paras = [p for b in f.blocks for p in _paras(b, self.style)]
            if paras:
                leads.append(Para((Run(_plain(lead_sentence(paras[0].runs))),), 1, "•"))
        return self._talking_points(leads or [Para((Run(d.title),), 1, "•")])

    # content slides --------------------------------------------------------------

    def _content(self, d: _Draft) -> tuple[Slide, ...]:
        """A draft's text slides (continued for lists), then its figure and image slides: planned once
        per process for the same draft, theme, fonts, note style and endnotes (`watch` plans again
        only the sections that changed)."""
        key = (d.kind, d.title, tuple(d.blocks), d.figures, tuple(d.notes), tuple(d.images), self.theme, self.measure,
               self.style, self.doc.endnotes)
        if key not in _PLANNED:
            keep(_PLANNED, key, tuple(self._content_slides(d)), MAX_PLANNED)
        return _PLANNED[key]

    def _content_slides(self, d: _Draft) -> list[Slide]:
        slides: list[Slide] = []
        full = [p for b in d.blocks for p in _paras(b, self.style)]
        points = _note_items(d.notes)  # talking points, used up slide by slide
        if full:
            pages, rest = ([full], []) if self._within_budget(full) else self._reduce(d.blocks)
            points = rest + points
            unshown = _cited(full) - {n for page in pages for n in _cited(page)}  # cited in prose left to the notes
            for i, page in enumerate(pages):
                shown = _cited(page)
                foot, body = self._foot(shown)
                own = [Para((Run(_plain(p.runs)),), max(p.level, 1), "•") for p in page]
                slides.append(Slide("content", d.title if i == 0 else f"{d.title} {self.labels.continued}",
                                    paras=tuple(page), size=self.deck.body_size, body=body, sources=foot,
                                    notes=self._talking_points(points or own, shown | (unshown if i == 0 else set()))))
        for i in range(0, len(d.figures), MAX_FIGURES):
            figures = d.figures[i:i + MAX_FIGURES]
            title = d.title if not slides else f"{d.title} {self.labels.continued}"
            cited = {ref.number for f in figures for ref in note_refs((Paragraph(f.value + f.label + f.note),))}
            foot, body = self._foot(cited)
            own = [Para((Run(f"{_plain(runs_of(f.value, self.style))} {_plain(runs_of(f.label, self.style))}"),), 1, "•")
                   for f in figures]
            figures = tuple(KeyFigure(*(_without_notes(x) for x in (f.value, f.label, f.note))) for f in figures)
            slides.append(Slide("figures", title, figures=figures, body=body, sources=foot,
                                notes=self._talking_points(points or own, cited)))
        for image in d.images:
            slides.append(Slide("image", d.title, image=image.path, alt=image.alt, notes=self._talking_points(points or [Para((Run(d.title),), 1, "•")])))
        return slides

    def _within_budget(self, page: list[Para]) -> bool:
        if len(page) > self.deck.max_items or sum(_word_count(p.runs) for p in page) > self.deck.max_words:
            return False
        return self.measure.fits(tuple(page), self.deck.body_size, self._foot(_cited(page))[1])

    def _reduce(self, blocks: list[Block]) -> tuple[list[list[Para]], list[Para]]:
        """Prose shows its lead sentence; lists (and the bold headings of their groups) are kept
        and continue on more slides, spread evenly over them.

        Returns the pages and the talking points: the sentences of the prose the slide does not show.
        """
        pages: list[list[Para]] = [[]]
        sentences: list[list[str]] = []  # per prose paragraph, the sentences left for the notes
        prose = 0  # the first slide's paragraphs up to its last prose lead, which stay on it
        for block in blocks:
            paras = _paras(block, self.style)
            if isinstance(block, (Paragraph, Quote)) and paras and not _is_group_heading(paras[0]):
                para = paras[0]
                text = _sentences(_plain(para.runs))
                lead = lead_sentence(para.runs)
                if _word_count(lead) > self.deck.max_words:
                    lead = _first_words(lead, self.deck.max_words)
                lead_para = replace(para, runs=lead)
                if len(pages) == 1 and self._within_budget(pages[-1] + [lead_para]):
                    pages[-1].append(lead_para)
                    prose = len(pages[-1])
                    sentences.append(text[1:])
                elif pages == [[]]:  # a lead taller than a slide (an endless word) is cut, as a list item is
                    pages = [[piece] for piece in self._fitting_pieces(lead_para)]
                    sentences.append(text[1:])
                else:
                    sentences.append(text)  # prose never continues onto another slide
                continue
            for para in paras:
                if pages[-1] and not self._within_budget(pages[-1] + [para]):
                    pages.append(_keep_with_next(pages[-1]))
                for piece in self._fitting_pieces(para):
                    if pages[-1] and not self._within_budget(pages[-1] + [piece]):
                        pages.append([])
                    pages[-1].append(piece)
        return self._balance([p for p in pages if p], prose), _key_sentences(sentences, int(self.deck.notes_words))

    def _balance(self, pages: list[list[Para]], prose: int) -> list[list[Para]]:
        """The same paragraphs on as many slides, spread as evenly as the budget and the measured
        fit allow. First, as few slides as can be start inside a group (not at a group heading);
        then the fullest slide holds as few paragraphs as it can and is as short as it can be; an
        earlier slide takes the one more. The first `prose` paragraphs (prose leads) stay on the
        first slide, and a group heading never ends a slide."""
        count = len(pages)
        if count < 2:
            return pages
        paras = [p for page in pages for p in page]
        n, most = len(paras), int(self.deck.max_items)
        heights = [self.measure.para_height(p, self.deck.body_size, body_box().width) for p in paras]

        def cost(i: int, j: int) -> tuple[int, float] | None:
            """(paragraphs, height) of paras[i:j] as one slide, or None where they may not be one."""
            allowed = (i > 0 or j >= prose) and (j == n or not _is_group_heading(paras[j - 1]))
            return (j - i, sum(heights[i:j])) if allowed and self._within_budget(paras[i:j]) else None

        # best[m][i]: for paras[i:] on m slides, ((slides starting inside a group, fullest slide), end of the first)
        best: list[dict[int, tuple[tuple[int, tuple[int, float]], int]]] = [{n: ((0, (0, 0.0)), n)}]
        for m in range(1, count + 1):
            best.append({})
            for i in range(max(count - m, n - m * most), min(n - m, (count - m) * most) + 1):
                options = []
                for j in range(i + 1, min(n, i + most) + 1):
                    if j in best[m - 1] and (here := cost(i, j)) is not None:
                        (inside, fullest), _ = best[m - 1][j]
                        inside += j < n and not _is_group_heading(paras[j])
                        options.append(((inside, max(here, fullest)), -j))
                if options:
                    score, j = min(options)
                    best[m][i] = (score, -j)
        if 0 not in best[count]:
            return pages  # no spread fits where the greedy one does (a heading before a cut item)
        out, i = [], 0
        for m in range(count, 0, -1):
            j = best[m][i][1]
            out.append(paras[i:j])
            i = j
        return out

    def _fitting_pieces(self, para: Para) -> list[Para]:
        """A list item taller than a slide, cut at words into pieces that each fit."""
        box = body_box()
        if self.measure.fits((para,), self.deck.body_size, box):
            return [para]
        return [p for s in _paginate("", (para,), self.deck.body_size, box, self.measure, "", (), "content") for p in s.paras]

    # sources at the foot -------------------------------------------------------------

    def _sources(self, cited: set[int]) -> list[str]:
        """The sources line, best first: each cited note's number and the start of its text; the
        numbers alone; then the first numbers only, for a slide that cites very many notes."""
        if not cited:
            return []
        label, numbers = f"{self.labels.sources}: ", [note_label(n, self.style) for n in sorted(cited)]
        lines = [label + "; ".join(self._source(n) for n in sorted(cited)), label + ", ".join(numbers)]
        return lines + [label + ", ".join(numbers[:k]) + ", …" for k in (len(numbers) // 2, 12, 3) if 0 < k < len(numbers)]

    def _source(self, number: int) -> str:
        """A note's number and the start of its text: a short source line."""
        note = self.endnotes.get(number)
        text = " ".join(block_text(b) for b in note.blocks) if note else ""
        words = text.split()
        short = " ".join(words[:SOURCE_WORDS])
        if len(words) > SOURCE_WORDS or len(short) > SOURCE_CHARS:
            short = short[:SOURCE_CHARS].rstrip() + "…"
        return f"{note_label(number, self.style)} {short}".strip()

    def _foot(self, cited: set[int]) -> tuple[tuple[Para, ...], Box]:
        """The sources line for these notes and the body box left above it."""
        box = body_box()
        for line in self._sources(cited):  # the first that leaves the body most of the slide
            foot = (Para((Run(line),)),)
            height = self.measure.para_height(foot[0], self.deck.source_size, box.width, after=False) + 2 * INSET_Y + FOOT_SLACK
            if height <= box.height * FOOT_SHARE:
                return foot, Box(box.left, box.top, box.width, box.height - height - FOOT_GAP)
        return (), box


_PLANNED: dict[tuple, tuple[Slide, ...]] = {}
MAX_PLANNED = 10_000  # drafts' slides a process keeps


def plan_deck(doc: Document, theme: Theme) -> tuple[Slide, ...]:
    return _Planner(doc, theme).plan()


def foot_box(slide: Slide) -> Box:
    """Where a slide's sources line sits: under its body, above the footer."""
    body = body_box()
    top = slide.body.top + slide.body.height + FOOT_GAP
    return Box(body.left, top, body.width, body.top + body.height - top)


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


# Text helpers ---------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[A-Za-z0-9)\]%”’'\"]{2}[.!?])\s+(?=[A-Z“‘\"(])")


def _plain(runs: tuple[Run, ...]) -> str:
    return "".join(r.text for r in runs if not r.superscript)


def _sentences(text: str) -> list[str]:
    return [s for s in (x.strip() for x in _SENTENCE_END.split(" ".join(text.split()))) if s]


def _word_count(runs: tuple[Run, ...]) -> int:
    return len(_plain(runs).split())


def lead_sentence(runs: tuple[Run, ...]) -> tuple[Run, ...]:
    """The runs up to the end of the first sentence, with a note marker right after it."""
    m = _SENTENCE_END.search(_plain(runs))
    if not m:
        return runs
    cut, pos, out = m.start(), 0, []
    for run in runs:
        if run.superscript:
            if pos <= cut:
                out.append(run)
            continue
        if pos < cut:
            out.append(run if pos + len(run.text) <= cut else replace(run, text=run.text[:cut - pos]))
        pos += len(run.text)
    return tuple(out)


def _first_words(runs: tuple[Run, ...], n: int) -> tuple[Run, ...]:
    """The first `n` words of the runs, and an ellipsis."""
    out, left = [], n
    for run in runs:
        if run.superscript:
            continue
        words = run.text.split(" ")
        count = len([w for w in words if w])
        if count < left:
            out.append(run)
            left -= count
            continue
        kept, seen = [], 0
        for w in words:
            if w:
                seen += 1
            kept.append(w)
            if seen == left:
                break
        out.append(replace(run, text=" ".join(kept).rstrip(",;:") + "…"))
        break
    return tuple(out)


def _key_sentences(sentences: list[list[str]], budget: int) -> list[Para]:
    """Talking points from prose within `budget` words: every paragraph's earliest sentences
    first (all of the text when it fits), then put back in reading order."""
    chosen, used = [], 0
    for rank, i in sorted((rank, i) for i, para in enumerate(sentences) for rank in range(len(para))):
        words = len(sentences[i][rank].split())
        if used + words > budget:
            break
        chosen.append((i, rank))
        used += words
    return [Para((Run(sentences[i][rank]),), 1, "•") for i, rank in sorted(chosen)]


def _note_items(blocks: list[Block]) -> list[Para]:
    """Speaker-note bullets from notes blocks: a sentence each; list items kept as (nested) bullets."""
    out: list[Para] = []
    for block in blocks:
        match block:
            case BulletList(items) | OrderedList(items):
                for item in items:
                    for j, b in enumerate(item):
                        if isinstance(b, (BulletList, OrderedList)):
                            out += [replace(p, level=p.level + 1) for p in _note_items([b])]
                        else:
                            out.append(Para((Run(block_text(b)),), 1 if j == 0 else 2, "•"))
            case _:
                out += [Para((Run(s),), 1, "•") for line in block_text(block).split("\n") for s in _sentences(line)]
    return out


def _bullets(lines: list[str]) -> tuple[Para, ...]:
    return tuple(Para((Run(x),), 1, "•") for x in lines)


def _cited(paras) -> set[int]:
    return {r.note for p in paras for r in p.runs if r.note}


def _keep_with_next(page: list[Para]) -> list[Para]:
    """A group heading (a bold line before a list) moves with the items it introduces."""
    if len(page) > 1 and _is_group_heading(page[-1]):
        return [page.pop()]
    return []


def _is_group_heading(para: Para) -> bool:
    return not para.bullet and all(r.bold for r in para.runs)


def _without_notes(inlines: tuple[Inline, ...]) -> tuple[Inline, ...]:
    """Inlines without citation markers (card labels carry none: the slide's foot lists the sources)."""
    out = []
    for node in inlines:
        if isinstance(node, NoteRef):
            continue
        if isinstance(node, (Emph, Strong, Link)):
            node = replace(node, children=_without_notes(node.children))
        out.append(node)
    if out and isinstance(out[-1], Text):
        out[-1] = Text(out[-1].text.rstrip())
    return tuple(out)


def _paginate(title: str, paras: tuple[Para, ...], size: float, box: Box, measure: Measure, cont: str,
              notes: tuple[Para, ...], kind: str) -> list[Slide]:
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
    """A single word taller than a whole slide: cut its first run by characters (a run that fits
    whole, such as the first piece of an address, is the head by itself)."""
    first = para.runs[0]
    lo, hi, best = 1, len(first.text), 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if measure.para_height(replace(para, runs=(replace(first, text=first.text[:mid]),)), size, box.width) <= room:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    head = replace(para, runs=(replace(first, text=first.text[:best]),))
    rest = (replace(first, text=first.text[best:]),) * (best < len(first.text)) + para.runs[1:]
    return head, replace(para, runs=rest, bullet="")


def _split_runs(runs: tuple[Run, ...]) -> list[tuple[Run, ...]]:
    """Runs cut into words, each keeping the space (or an address's zero width space) after it."""
    words: list[list[Run]] = [[]]
    for run in runs:
        for part in _AFTER_BREAK.split(run.text):
            if part:
                words[-1].append(replace(run, text=part))
                if part[-1] in _BREAKS:
                    words.append([])
    return [tuple(w) for w in words if w]


_BREAKS = " " + ADDRESS_BREAK
_AFTER_BREAK = re.compile(f"(?<=[{_BREAKS}])")


def _join(words: list[tuple[Run, ...]]) -> tuple[Run, ...]:
    runs = [r for w in words for r in w]
    if runs:
        runs[-1] = replace(runs[-1], text=runs[-1].text.rstrip(_BREAKS) or runs[-1].text)
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
    slides = _paginate(theme.labels.endnotes, tuple(paras), size, box, measure, theme.labels.continued, (), "endnotes")
    return [replace(s, notes=_bullets([_plain(p.runs) for p in s.paras])) for s in slides]
