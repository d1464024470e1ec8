"""The theme: fonts, colours, sizes and labels shared by every renderer."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from briefkit.errors import BuildError, Origin
from briefkit.loading import read_theme_file
from briefkit.templates import Templates


@dataclass(frozen=True, slots=True)
class Font:
    """Family names written into memo and deck, and the TrueType files behind them."""

    name: str  # sans
    serif: str
    mono: str
    regular: str
    bold: str
    italic: str
    bold_italic: str
    serif_regular: str
    serif_bold: str
    serif_italic: str
    serif_bold_italic: str
    mono_regular: str


@dataclass(frozen=True, slots=True)
class Colour:
    text: str
    primary: str
    accent: str
    muted: str
    link: str
    callout_fill: str
    callout_border: str
    rule: str


@dataclass(frozen=True, slots=True)
class Size:
    body: float
    small: float
    endnote: float
    h1: float
    h2: float
    h3: float
    title: float
    subtitle: float
    figure: float


@dataclass(frozen=True, slots=True)
class Spacing:
    paragraph_after: float
    heading_before: float
    heading_after: float


@dataclass(frozen=True, slots=True)
class Page:
    size: str
    margin_top: float
    margin_bottom: float
    margin_left: float
    margin_right: float


@dataclass(frozen=True, slots=True)
class Deck:
    title_size: float
    body_size: float
    min_body_size: float
    section_size: float
    figure_size: float
    notes_size: float
    source_size: float
    max_words: float    # on a content slide
    max_items: float    # paragraphs and bullets on a content slide
    notes_words: float  # talking points of a slide's speaker notes


@dataclass(frozen=True, slots=True)
class Labels:
    supervised_by: str
    contents: str
    endnotes: str
    page: str
    of: str
    continued: str
    agenda: str
    sources: str


@dataclass(frozen=True, slots=True)
class Theme:
    font: Font
    colour: Colour
    size: Size
    leading: float
    spacing: Spacing
    page: Page
    deck: Deck
    labels: Labels
    templates: Templates

    def heading_size(self, level: int) -> float:
        return (self.size.h1, self.size.h2, self.size.h3)[min(level, 3) - 1]

    def font_file(self, style: str) -> Path:
        """Path of the TrueType file for 'regular', 'bold', 'italic' or 'bold_italic' (the sans
        family), 'serif_regular' … 'serif_bold_italic', or 'mono_regular'."""
        name = getattr(self.font, style)
        found = self.templates.find(name) or self.templates.find(f"fonts/{name}")
        if found is None and (_reportlab_fonts() / name).is_file():
            found = _reportlab_fonts() / name
        if found is None:
            raise BuildError(f"theme font file '{name}' not found in {', '.join(map(str, self.templates.folders[:-1])) or 'the templates folder'}, the built-in templates or reportlab's fonts")
        return found


def _reportlab_fonts() -> Path:
    import reportlab

    return Path(reportlab.__file__).parent / "fonts"


_SECTIONS = {"font": Font, "colour": Colour, "size": Size, "spacing": Spacing,
             "page": Page, "deck": Deck, "labels": Labels}


def load_theme(templates: Templates) -> Theme:
    path = templates.find("theme.yaml") or templates.folders[0] / "theme.yaml"
    display = templates.display(path)
    data = read_theme_file(path, display)
    values: dict[str, Any] = {"templates": templates}
    for f in fields(Theme):
        if f.name == "templates":
            continue
        if f.name not in data:
            raise BuildError(f"theme has no '{f.name}'", Origin(display, 1))
        raw = data[f.name]
        cls = _SECTIONS.get(f.name)
        if cls is None:
            values[f.name] = float(raw)
            continue
        if not isinstance(raw, dict):
            raise BuildError(f"theme '{f.name}' must be a mapping", Origin(display, 1))
        missing = [g.name for g in fields(cls) if g.name not in raw]
        if missing:
            raise BuildError(f"theme '{f.name}' lacks {', '.join(missing)}", Origin(display, 1))
        values[f.name] = cls(**{g.name: (str(raw[g.name]) if g.type == "str" else float(raw[g.name])) for g in fields(cls)})
    return Theme(**values)
