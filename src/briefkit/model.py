"""The format-neutral document model that every renderer reads.

Frozen dataclasses and tuples: no renderer can change what another one sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union


# Inlines ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Emph:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Strong:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    children: tuple[Inline, ...]
    url: str


@dataclass(frozen=True, slots=True)
class LineBreak:
    pass


@dataclass(frozen=True, slots=True)
class NoteRef:
    """A citation marker; `number` is 0 until notes.number_notes sets it."""

    key: str
    number: int = 0


Inline = Union[Text, Emph, Strong, Code, Link, LineBreak, NoteRef]


# Blocks ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Paragraph:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class BulletList:
    items: tuple[tuple[Block, ...], ...]


@dataclass(frozen=True, slots=True)
class OrderedList:
    items: tuple[tuple[Block, ...], ...]
    start: int = 1


@dataclass(frozen=True, slots=True)
class Quote:
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class CodeBlock:
    text: str


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[tuple[Inline, ...], ...]
    rows: tuple[tuple[tuple[Inline, ...], ...], ...]
    aligns: tuple[str, ...]  # "left" | "center" | "right" per column


@dataclass(frozen=True, slots=True)
class Image:
    """A picture standing in its own paragraph; `path` is resolved and checked."""

    path: str
    alt: str


@dataclass(frozen=True, slots=True)
class Callout:
    """A boxed aside, such as a pillar's key recommendations or key figures."""

    kind: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    pass


Block = Union[Heading, Paragraph, BulletList, OrderedList, Quote, CodeBlock, Table, Image, Callout, Rule]


# Document --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endnote:
    key: str
    number: int
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Meta:
    title: str
    short_title: str = ""
    subtitle: str = ""
    organization: str = ""
    term: str = ""
    supervisor: str = ""
    authors: tuple[str, ...] = ()
    date: str = ""  # as printed, e.g. "Autumn 2026"
    date_iso: str = ""  # YYYY-MM-DD; fixes the timestamps inside the files
    subject: str = ""
    keywords: tuple[str, ...] = ()
    language: str = "en-US"
    endnote_style: str = "lower-roman"
    slug: str = "briefing"

    @property
    def when(self) -> str:
        """The cover's line of time: term and date, the date once when they are the same."""
        return " · ".join(dict.fromkeys(x for x in (self.term, self.date) if x))


@dataclass(frozen=True, slots=True)
class Document:
    meta: Meta
    blocks: tuple[Block, ...]
    endnotes: tuple[Endnote, ...] = field(default=())


# Helpers shared by renderers -------------------------------------------------


def child_blocks(block: Block) -> Iterator[Block]:
    match block:
        case BulletList(items) | OrderedList(items):
            for item in items:
                yield from item
        case Quote(blocks) | Callout(blocks=blocks):
            yield from blocks


def inline_runs(block: Block) -> Iterator[tuple[Inline, ...]]:
    """Every inline sequence directly in `block` (not in its child blocks)."""
    match block:
        case Heading(children=c) | Paragraph(children=c):
            yield c
        case Table(header, rows):
            yield from header
            for row in rows:
                yield from row


def walk_blocks(blocks: tuple[Block, ...]) -> Iterator[Block]:
    for block in blocks:
        yield block
        yield from walk_blocks(tuple(child_blocks(block)))


def walk_inlines(inlines: tuple[Inline, ...]) -> Iterator[Inline]:
    for node in inlines:
        yield node
        if isinstance(node, (Emph, Strong, Link)):
            yield from walk_inlines(node.children)


def note_refs(blocks: tuple[Block, ...]) -> Iterator[NoteRef]:
    """Citations in reading order."""
    for block in walk_blocks(blocks):
        for run in inline_runs(block):
            for node in walk_inlines(run):
                if isinstance(node, NoteRef):
                    yield node


def plain_text(inlines: tuple[Inline, ...], *, with_notes: bool = False) -> str:
    out = []
    for node in inlines:
        match node:
            case Text(text) | Code(text):
                out.append(text)
            case Emph(children) | Strong(children) | Link(children):
                out.append(plain_text(children, with_notes=with_notes))
            case LineBreak():
                out.append("\n")
            case NoteRef():
                if with_notes:
                    out.append(f"[{node.number}]")
    return "".join(out)


def block_text(block: Block) -> str:
    """A block as plain text: list items on lines of their own after "• ", table cells joined by " · "."""
    match block:
        case Paragraph(children) | Heading(children=children):
            return plain_text(children)
        case BulletList(items) | OrderedList(items):
            return "\n".join("• " + " ".join(block_text(b) for b in item) for item in items)
        case CodeBlock(text):
            return text
        case Quote(blocks) | Callout(blocks=blocks):
            return "\n".join(block_text(b) for b in blocks)
        case Table(header, rows):
            return "\n".join(" · ".join(plain_text(c) for c in row) for row in ((header,) if header else ()) + rows)
        case Image(alt=alt):
            return alt
    return ""


_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
          (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))

NOTE_STYLES = ("lower-roman", "arabic")


NOTE_SEPARATOR = ","  # between adjacent citations, so that notes 1 and 2 read "1,2", never "12"


def cites_next(inlines: tuple[Inline, ...], i: int) -> bool:
    """Whether inlines[i] is a citation directly followed by another (it then takes a separator)."""
    return isinstance(inlines[i], NoteRef) and i + 1 < len(inlines) and isinstance(inlines[i + 1], NoteRef)


def note_label(number: int, style: str) -> str:
    """How a note number is printed: 'iv' in lower-roman, '4' in arabic."""
    if style == "arabic":
        return str(number)
    out = []
    for value, letters in _ROMAN:
        while number >= value:
            out.append(letters)
            number -= value
    return "".join(out)


@dataclass(frozen=True, slots=True)
class KeyFigure:
    value: tuple[Inline, ...]
    label: tuple[Inline, ...]
    note: tuple[Inline, ...]


def figure_rows(count: int) -> tuple[int, ...]:
    """Cards per row for `count` key figures: up to three a row, rows as even as can be (4 -> 2+2, 5 -> 3+2)."""
    rows = -(-count // 3)
    return tuple(count // rows + (1 if i < count % rows else 0) for i in range(rows))


def key_figures(callout: Callout) -> tuple[KeyFigure, ...]:
    """The rows of a figures callout's table, read as (value, label, note)."""
    for block in callout.blocks:
        if isinstance(block, Table):
            return tuple(KeyFigure(*(tuple(row) + ((), (), ()))[:3]) for row in block.rows)
    return ()


ADDRESS_BREAK = "\u200b"  # zero width space: where a line may break inside a shown address
LONG_ADDRESS = 30  # characters: a shown address longer than this may break across lines


def address_pieces(link: Link) -> tuple[str, ...]:
    """A link that shows its own address (`https://x.org/a-b?c=1`, or `x.org/a-b?c=1` for that
    target) longer than LONG_ADDRESS, cut where a line may break: after `/`, `-` and `?` (where
    Word, PowerPoint and LibreOffice break an address by themselves), before `&` and `=`, never
    inside the scheme and host nor between two slashes. () for any other link.

    A piece longer than a whole line still breaks where it must; a shorter address moves to
    the next line whole, as a word does.
    """
    if len(link.children) != 1 or not isinstance(link.children[0], Text):
        return ()
    text = link.children[0].text
    if len(text) <= LONG_ADDRESS or any(c.isspace() for c in text) or not (
            link.url == text or link.url.endswith("//" + text)):
        return ()
    scheme = text.find("://")
    path = text.find("/", scheme + 3 if scheme >= 0 else 0)  # the host ends here
    if path < 0:
        return ()
    cuts = [0]
    for i in range(path + 1, len(text)):
        after = text[i - 1] in "-?" or text[i - 1] == "/" != text[i]  # never between the slashes of '//'
        if (after or text[i] in "&=") and i > cuts[-1]:
            cuts.append(i)
    return tuple(text[a:b] for a, b in zip(cuts, cuts[1:] + [len(text)]))
