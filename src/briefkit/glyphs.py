"""Characters the theme's fonts cannot draw, found in the content before anything is rendered.

A character no configured font has would print as an empty box (or vanish); each is reported
once per file, at its first line, as a warning (an error under --strict).
"""

from __future__ import annotations

import struct
import unicodedata
from functools import lru_cache
from pathlib import Path

from briefkit.errors import BuildError, Origin
from briefkit.loading import Content, decode
from briefkit.theme import Theme

# every TrueType file the theme configures; the brief falls back from one to the others
FONT_STYLES = ("serif_regular", "serif_bold", "serif_italic", "serif_bold_italic",
               "regular", "bold", "italic", "bold_italic", "mono_regular")

# Unicode subtables of 'cmap' (platform, encoding), best first: full repertoire before the BMP
# only, Windows before Unicode, as HarfBuzz chooses
CMAP_PREFERENCE = ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0))


class _TrueType:
    """The tables of a TrueType file that say which glyph draws a character and how wide it is."""

    def __init__(self, path: Path) -> None:
        data = path.read_bytes()
        try:
            count = struct.unpack_from(">H", data, 4)[0]
            tables = {tag: offset for tag, _, offset, _ in
                      (struct.unpack_from(">4sIII", data, 12 + 16 * i) for i in range(count))}
            self.cmap = _cmap(data, tables[b"cmap"])
            self.units = struct.unpack_from(">H", data, tables[b"head"] + 18)[0]
            self.advances = _advances(data, tables)
        except (struct.error, KeyError) as e:
            raise BuildError(f"font file '{path}' is not a TrueType font this can read ({e})") from None


def _cmap(data: bytes, base: int) -> dict[int, int]:
    """Character -> glyph index from the best Unicode subtable (characters on glyph 0 left out)."""
    count = struct.unpack_from(">H", data, base + 2)[0]
    subtables = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, base + 4 + 8 * i)
        subtables.setdefault((platform, encoding), base + offset)
    for key in CMAP_PREFERENCE:
        if key in subtables and (found := _subtable(data, subtables[key])) is not None:
            return {char: glyph for char, glyph in found if glyph}
    return {}


def _advances(data: bytes, tables: dict[bytes, int]) -> list[int]:
    """Advance width of every glyph: those after the last full metric repeat its width."""
    glyphs = struct.unpack_from(">H", data, tables[b"maxp"] + 4)[0]
    full = struct.unpack_from(">H", data, tables[b"hhea"] + 34)[0]
    advances = list(struct.unpack_from(f">{2 * full}H", data, tables[b"hmtx"])[::2])  # (width, bearing) pairs
    return advances + [advances[-1]] * (glyphs - full)


def _subtable(data: bytes, at: int):
    """(character, glyph) pairs of a cmap subtable in format 0, 4, 6, 12 or 13; None for another format."""
    fmt = struct.unpack_from(">H", data, at)[0]
    if fmt == 0:
        return enumerate(data[at + 6:at + 262])
    if fmt == 6:
        first, count = struct.unpack_from(">HH", data, at + 6)
        return zip(range(first, first + count), struct.unpack_from(f">{count}H", data, at + 10))
    if fmt == 4:
        return _format4(data, at)
    if fmt in (12, 13):
        groups = struct.unpack_from(">I", data, at + 12)[0]
        pairs = []
        for g in range(groups):
            start, end, glyph = struct.unpack_from(">III", data, at + 16 + 12 * g)
            pairs += zip(range(start, end + 1), range(glyph, glyph + end - start + 1) if fmt == 12
                         else [glyph] * (end - start + 1))
        return pairs
    return None


def _format4(data: bytes, at: int) -> list[tuple[int, int]]:
    """Segments of a BMP subtable: each maps a run of characters by a delta or through an array."""
    segments = struct.unpack_from(">H", data, at + 6)[0] // 2
    ends = struct.unpack_from(f">{segments}H", data, at + 14)
    starts = struct.unpack_from(f">{segments}H", data, at + 16 + 2 * segments)
    deltas = struct.unpack_from(f">{segments}h", data, at + 16 + 4 * segments)
    range_at = at + 16 + 6 * segments
    offsets = struct.unpack_from(f">{segments}H", data, range_at)
    pairs = []
    for i, (start, end, delta, offset) in enumerate(zip(starts, ends, deltas, offsets)):
        if start == 0xFFFF:
            continue
        chars = range(start, end + 1)
        if offset == 0:
            pairs += ((c, (c + delta) & 0xFFFF) for c in chars)
        else:  # the offset counts from this segment's own entry in the offsets array
            array = struct.unpack_from(f">{len(chars)}H", data, range_at + 2 * i + offset)
            pairs += ((c, (g + delta) & 0xFFFF if g else 0) for c, g in zip(chars, array))
    return pairs


@lru_cache(maxsize=32)
def _read(path: Path, mtime: float) -> _TrueType:
    return _TrueType(path)


def font(path: Path) -> _TrueType:
    """The TrueType file at `path`, read once per version of the file."""
    return _read(path, path.stat().st_mtime)


def text_width(path: Path, text: str, size: float) -> float:
    """Points `text` takes in the TrueType file at `size` (no kerning: a slight overestimate)."""
    face = font(path)
    cmap, advances = face.cmap, face.advances
    return sum(advances[cmap.get(ord(ch), 0)] for ch in text) * size / face.units


def drawable(theme: Theme) -> frozenset[int]:
    """Code points at least one of the theme's fonts can draw."""
    return _drawable(tuple(font(theme.font_file(style)) for style in FONT_STYLES))


@lru_cache(maxsize=8)
def _drawable(faces: tuple[_TrueType, ...]) -> frozenset[int]:
    return frozenset().union(*(face.cmap for face in faces))


def _invisible(ch: str) -> bool:
    """Line ends, tabs and format characters: nothing to draw."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")


def missing_glyphs(content: Content, theme: Theme) -> list[BuildError]:
    """One warning per file and character that no font of the theme can draw."""
    fonts = drawable(theme)
    names = ", ".join(dict.fromkeys((theme.font.serif, theme.font.name, theme.font.mono)))
    sources = (content.briefing, *content.sections.values(), *content.pillars)
    return [finding for source in sources
            for finding in _missing_in(source.path, decode(Path(source.path), source.path), fonts, names)]


@lru_cache(maxsize=1024)
def _missing_in(path: str, text: str, fonts: frozenset[int], names: str) -> tuple[BuildError, ...]:
    """The warnings for one file's text (once per text and fonts: `watch` checks again after each edit)."""
    missing = [ch for ch in set(text) if ord(ch) not in fonts and not _invisible(ch)]
    return tuple(BuildError(
        f"'{ch}' (U+{ord(ch):04X}) is in none of the theme's fonts ({names} and the files behind "
        "them): it would print as an empty box; use another character or set fonts that have it in theme.yaml",
        Origin(path, text.count("\n", 0, at) + 1), "warning") for at, ch in sorted((text.index(ch), ch) for ch in missing))
