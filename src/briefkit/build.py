"""The pipeline: load, assemble, parse once per template, number notes, render, write."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from briefkit.assembly import assemble
from briefkit.errors import BuildError
from briefkit.io import write_atomic
from briefkit.loading import Content, load_content
from briefkit.model import Document, Meta
from briefkit.notes import number_notes
from briefkit.parsing import Parser
from briefkit.theme import Theme, load_theme

MEMO_TEMPLATE = "memo.md.j2"
DECK_TEMPLATE = "deck.md.j2"


@dataclass(frozen=True, slots=True)
class Deliverable:
    format: str
    filename: str
    template: str


DELIVERABLES = {
    "docx": Deliverable("docx", "memo.docx", MEMO_TEMPLATE),
    "pdf": Deliverable("pdf", "brief.pdf", MEMO_TEMPLATE),
    "pptx": Deliverable("pptx", "deck.pptx", DECK_TEMPLATE),
}


@dataclass(frozen=True, slots=True)
class Briefing:
    """Everything renderers need: one numbered Document per template, and the theme."""

    documents: dict[str, Document]  # by template name
    theme: Theme
    content: Content


@dataclass(frozen=True, slots=True)
class Built:
    path: Path
    size: int
    seconds: float


def meta_of(content: Content) -> Meta:
    m = content.briefing.meta
    return Meta(
        title=m["title"], short_title=m["short_title"] or m["title"], subtitle=m["subtitle"],
        organization=m["organization"], term=m["term"], supervisor=m["supervisor"],
        authors=m["authors"], date=m["date"], subject=m["subject"], keywords=m["keywords"],
        language=m["language"] or "en-US", endnote_style=m["endnote_style"] or "lower-roman",
        slug=m["slug"] or "briefing",
    )


def prepare(content_dir: Path, template_dir: Path, formats: tuple[str, ...], *, strict: bool = False) -> Briefing:
    """Load and check content, then parse each template's Markdown once and number the notes.

    The memo template is always parsed: its citation order numbers the notes everywhere.
    """
    content = load_content(Path(content_dir), strict=strict)
    theme = load_theme(Path(template_dir))
    parser = Parser(image_root=Path(content_dir))
    meta = meta_of(content)
    names = [MEMO_TEMPLATE] + sorted({DELIVERABLES[f].template for f in formats} - {MEMO_TEMPLATE})
    docs = [parser.document(assemble(content, Path(template_dir), name), meta) for name in names]
    bodies = {key: _note_body(parser, d) for key, d in content.notes.items()}
    numbered = number_notes(docs[0], tuple(docs[1:]), bodies)
    return Briefing(dict(zip(names, numbered)), theme, content)


def _note_body(parser: Parser, note) -> tuple:
    try:
        return parser.blocks(note.text)
    except BuildError as e:
        raise BuildError(e.message, note.origin) from None


def renderer(fmt: str) -> Callable[[Document, Theme], bytes]:
    """The render function for a format, imported only when that format is built."""
    if fmt == "docx":
        from briefkit.render.memo_docx import render_memo
        return render_memo
    if fmt == "pdf":
        from briefkit.render.brief_pdf import render_brief
        return render_brief
    if fmt == "pptx":
        from briefkit.render.deck_pptx import render_deck
        return render_deck
    raise BuildError(f"unknown format '{fmt}'")


def build(content_dir: Path, template_dir: Path, out_dir: Path, formats: tuple[str, ...], *,
          strict: bool = False, on_built: Callable[[Built], None] | None = None) -> list[Built]:
    """Render every requested format first, then write them all: a failure writes nothing."""
    briefing = prepare(content_dir, template_dir, formats, strict=strict)
    rendered = []
    for fmt in formats:
        d = DELIVERABLES[fmt]
        start = time.perf_counter()
        data = renderer(fmt)(briefing.documents[d.template], briefing.theme)
        rendered.append((d, data, time.perf_counter() - start))
    built = []
    for d, data, seconds in rendered:
        path = Path(out_dir) / d.filename
        write_atomic(path, data)
        built.append(Built(path, len(data), seconds))
        if on_built:
            on_built(built[-1])
    return built
