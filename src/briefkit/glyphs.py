"""Characters the theme's fonts cannot draw, found in the content before anything is rendered.

A character no configured font has would print as an empty box (or vanish); each is reported
once per file, at its first line, as a warning (an error under --strict).
"""

from __future__ import annotations

import logging
import unicodedata
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont

from briefkit.errors import BuildError, Origin
from briefkit.loading import Content, decode
from briefkit.theme import Theme

# fontTools logs oddities of a font's tables (an early 'created' date in Caladea) that are no
# concern of a briefing's author
logging.getLogger("fontTools").setLevel(logging.ERROR)

# every TrueType file the theme configures; the brief falls back from one to the others
FONT_STYLES = ("serif_regular", "serif_bold", "serif_italic", "serif_bold_italic",
               "regular", "bold", "italic", "bold_italic", "mono_regular")


@lru_cache(maxsize=32)
def code_points(path: Path, mtime: float) -> frozenset[int]:
    """The code points a TrueType file maps to glyphs (cached per file version)."""
    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap() or ())


@lru_cache(maxsize=32)
def _metrics(path: Path, mtime: float) -> tuple[dict[int, str], dict[str, int], int]:
    with TTFont(str(path), lazy=True) as font:
        return (dict(font.getBestCmap() or {}), {name: adv for name, (adv, _) in font["hmtx"].metrics.items()},
                font["head"].unitsPerEm)


def text_width(path: Path, text: str, size: float) -> float:
    """Points `text` takes in the TrueType file at `size` (no kerning: a slight overestimate)."""
    cmap, advances, units = _metrics(path, path.stat().st_mtime)
    notdef = advances.get(".notdef", units // 2)
    return sum(advances.get(cmap.get(ord(ch), ".notdef"), notdef) for ch in text) * size / units


def drawable(theme: Theme) -> frozenset[int]:
    """Code points at least one of the theme's fonts can draw."""
    out: set[int] = set()
    for style in FONT_STYLES:
        path = theme.font_file(style)
        out |= code_points(path, path.stat().st_mtime)
    return frozenset(out)


def _invisible(ch: str) -> bool:
    """Line ends, tabs and format characters: nothing to draw."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")


def missing_glyphs(content: Content, theme: Theme) -> list[BuildError]:
    """One warning per file and character that no font of the theme can draw."""
    fonts = drawable(theme)
    names = ", ".join(dict.fromkeys((theme.font.serif, theme.font.name, theme.font.mono)))
    found: list[BuildError] = []
    sources = (content.briefing, *content.sections.values(), *content.pillars)
    for source in sources:
        seen: set[str] = set()
        for number, line in enumerate(decode(Path(source.path), source.path).split("\n"), 1):
            for ch in line:
                if ch in seen or ord(ch) in fonts or _invisible(ch):
                    continue
                seen.add(ch)
                found.append(BuildError(
                    f"'{ch}' (U+{ord(ch):04X}) is in none of the theme's fonts ({names} and the files behind "
                    "them): it would print as an empty box; use another character or set fonts that have it in theme.yaml",
                    Origin(source.path, number), "warning"))
    return found
