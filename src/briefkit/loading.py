"""Read content files: decode, split and check YAML front matter, collect endnotes.

Every user-fixable problem becomes a BuildError with the file and line; `load_content`
gathers them all so that `briefkit check` can report every finding in one run.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

from briefkit.errors import BuildError, BuildErrors, Origin
from briefkit.images import image_problem
from briefkit.io import stem_problem
from briefkit.limits import (MAX_BRACKET_DEPTH, MAX_FILE_BYTES, MAX_FRONT_MATTER_BYTES, MAX_IMAGE_BYTES,
                             MAX_INLINE_DEPTH, MAX_NESTING, MAX_NOTES, MAX_PARAGRAPH_CHARS, MAX_TABLE_COLUMNS, MAX_TABLE_ROWS, MAX_YAML_DEPTH)
from briefkit.model import NOTE_STYLES

KINDS = ("briefing", "section", "pillar")
PILLAR_PARTS = ("analysis", "recommendations")
SECTION_ROLES = ("context", "introduction", "conclusion")  # the roles the built-in templates place
_ROLE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Key:
    type: str  # "str" | "int" | "strlist" | "figures" | "mapping" | "deck"
    required: bool = False
    choices: tuple[str, ...] = ()


SCHEMA: dict[str, dict[str, Key]] = {
    "briefing": {
        "kind": Key("str", True),
        "title": Key("str", True),
        "short_title": Key("str"),
        "subtitle": Key("str"),
        "organization": Key("str"),
        "term": Key("str"),
        "supervisor": Key("str"),
        "authors": Key("strlist"),
        "date": Key("str"),
        "date_iso": Key("str"),
        "subject": Key("str"),
        "keywords": Key("strlist"),
        "language": Key("str"),
        "endnote_style": Key("str", choices=NOTE_STYLES),
        "slug": Key("str"),
        "extra": Key("mapping"),
    },
    "section": {
        "kind": Key("str", True),
        "role": Key("str"),
        "title": Key("str", True),
        "summary": Key("str"),
        "deck": Key("deck"),
        "extra": Key("mapping"),
    },
    "pillar": {
        "kind": Key("str", True),
        "title": Key("str", True),
        "short_title": Key("str"),
        "order": Key("int", True),
        "summary_title": Key("str"),
        "summary": Key("str"),
        "recommendations": Key("strlist"),
        "figures": Key("figures"),
        "deck": Key("deck"),
        "extra": Key("mapping"),
    },
}
FIGURE_KEYS = {"value": True, "label": True, "note": False}
DECK_POINTS = 4  # at most, on a slide written by the author
_DEFAULTS: dict[str, Any] = {"str": "", "int": 0, "strlist": (), "figures": (), "mapping": MappingProxyType({}),
                             "deck": MappingProxyType({"headline": "", "points": ()})}


@dataclass(frozen=True, slots=True)
class Source:
    """One content file after loading: checked front matter and body."""

    path: str
    kind: str
    meta: dict[str, Any]
    body: str  # "" when the file has no text after its front matter
    parts: dict[str, str] = field(default_factory=dict)  # a pillar's parts; "" when absent or empty
    key_lines: dict[str, int] = field(default_factory=dict)  # front-matter key -> its line
    part_lines: dict[str, int] = field(default_factory=dict)  # part -> its heading's line
    body_line: int = 1


@dataclass(frozen=True, slots=True)
class NoteDef:
    key: str
    text: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class Content:
    root: str
    briefing: Source
    sections: dict[str, Source]  # by role
    roleless: tuple[Source, ...]  # sections without a role, which no template can place
    pillars: tuple[Source, ...]
    notes: dict[str, NoteDef]
    cited: frozenset[str]  # keys cited somewhere in the content files
    warnings: tuple[BuildError, ...]


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")
_REF = re.compile(r"(?<!\\)\[\^([^][\s]++)\]")  # no '[' in a key: one pass over any run of '[^'
_DEF = re.compile(r"^ {0,3}\[\^([^][\s]+)\]:[ \t]?(.*)$")
_PART = re.compile(r"^# +(.*[^\s#])[\s#]*$")
_IMAGE_TARGET = re.compile(r"""\(\s*+(?:<([^>\n]*+)>|([^)\s]++))(?:\s++(?:"[^"]*+"|'[^']*+'))?\s*+\)""")
_STRAY_BRACKET = re.compile(r"[^\[\]]*\]\(")
_LIST_MARKER = re.compile(r"(?:[-*+]|[0-9]{1,9}[.)])(?:[ \t]|$)")
# possessive quantifiers (*+, ++): no backtracking, so linear on any line
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*+\1){2,}+[ \t]*+$")
_TABLE_DELIMITER = re.compile(r"^ {0,3}\|?[ \t]*+:?-++:?[ \t]*+(?:\|[ \t]*+:?-++:?[ \t]*+)*+\|?[ \t]*+$")
_DELIMITER_RUN = re.compile(rf"[*_]{{{MAX_INLINE_DEPTH},}}")
_MARK_RUN = re.compile(r"(?<!\\)(?:\*++|_++)")
_BRACKET = re.compile(r"\\.|[][()]")
_WHOLE_NUMBER = re.compile(r"[-+]?[0-9]{1,9}")
# What XML 1.0, and so Word, PowerPoint and PDF text, cannot hold: C0 controls but tab and
# line feed, DEL, lone surrogates (from YAML escapes such as "\ud800") and U+FFFE/U+FFFF.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_CONTROL_NAMES = {0x00: "NUL", 0x08: "backspace", 0x0B: "vertical tab", 0x0C: "form feed",
                  0x0D: "carriage return", 0x1B: "escape", 0x7F: "delete"}


def read_regular(path: Path, display: str, limit: int) -> bytes:
    """A regular file's bytes, at most `limit` of them; a FIFO, device or folder is refused unread."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once instead of waiting for a writer
    except OSError as e:
        raise BuildError(f"cannot read file: {e.strerror}", Origin(display, 0)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
            raise BuildError(f"not a regular file but {what}; only regular files are read", Origin(display, 0))
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise BuildError(f"cannot read file: {e.strerror}", Origin(display, 0)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise BuildError(f"file is larger than the limit of {limit:,} bytes", Origin(display, 0))
    return data


def decode(path: Path, display: str) -> str:
    """UTF-8 text with any BOM dropped and CRLF/CR line ends made LF; control characters refused."""
    raw = read_regular(path, display, MAX_FILE_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise BuildError(
            f"not UTF-8 text: byte 0x{raw[e.start]:02x} at offset {e.start}; save the file as UTF-8",
            Origin(display, line)) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if problems := _character_errors(text, display):
        raise BuildErrors(problems)
    return text


def control_characters(text: str) -> list[str]:
    """Each character of `text` that no deliverable can hold, described with its code point."""
    out = []
    for m in _CONTROL.finditer(text):
        code = ord(m.group())
        if 0xD800 <= code <= 0xDFFF:
            out.append(f"lone surrogate U+{code:04X}")
        elif code >= 0xFFFE:
            out.append(f"non-character U+{code:04X}")
        else:
            name = _CONTROL_NAMES.get(code)
            out.append(f"control character U+{code:04X}" + (f" ({name})" if name else ""))
    return out


def _character_errors(text: str, display: str, shown: int = 10) -> list[BuildError]:
    """One error per line holding control characters (the first `shown` lines, then a count)."""
    lines: dict[int, list[tuple[int, str]]] = {}
    line, scanned = 1, 0
    for m in _CONTROL.finditer(text):
        line += text.count("\n", scanned, m.start())
        scanned = m.start()
        lines.setdefault(line, []).append((m.start() - text.rfind("\n", 0, m.start()), m.group()))
    errors = []
    for line, found in list(lines.items())[:shown]:
        column, char = found[0]
        more = f" (and {len(found) - 1} more on this line)" if len(found) > 1 else ""
        errors.append(BuildError(f"{control_characters(char)[0]} at column {column}{more}; no memo, PDF or slide "
                                 "can show it: delete it", Origin(display, line)))
    if len(lines) > shown:
        errors.append(BuildError(f"{len(lines) - shown} more lines hold such characters", Origin(display, 0)))
    return errors


def _code_mask(lines: list[str]) -> list[bool]:
    """True for lines inside fenced code blocks (fence lines included)."""
    mask, fence = [], ""
    for line in lines:
        m = _FENCE.match(line)
        if fence:
            mask.append(True)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = ""
        elif m:
            fence = m.group(1)
            mask.append(True)
        else:
            mask.append(False)
    return mask


def split_front_matter(text: str, display: str) -> tuple[str, int, str, int]:
    """(front matter, its first file line, body, body's first file line)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise BuildError("missing YAML front matter: the file must start with a '---' line (every .md file "
                         "of the content folder is part of the briefing; keep other Markdown elsewhere)",
                         Origin(display, 1))
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), 2, "\n".join(lines[i + 1:]), i + 2
    raise BuildError("front matter is never closed: add a '---' line after it", Origin(display, 1))


# libyaml's parser when PyYAML was built with it, else PyYAML's own: the same events either way.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_NULL = ("", "~", "null", "Null", "NULL")


class _YamlText(NamedTuple):
    """How messages name a YAML text: a content file's front matter, or the theme file."""

    name: str
    invalid: str
    value: str
    keys: str
    size_hint: str


_FRONT_MATTER = _YamlText("front matter", "invalid YAML front matter", "a front-matter value",
                          "front-matter keys must be words such as 'title:'", " (long text belongs in the body)")
_THEME = _YamlText("the theme file", "invalid YAML in the theme file", "a value of the theme file",
                   "the theme file's keys must be words such as 'colour:'", "")


def _parse_yaml(fm: str, first_line: int, display: str, what: _YamlText = _FRONT_MATTER) -> tuple[dict[str, Any], dict[str, int]]:
    """A front-matter mapping, read once from the parser's events; top-level keys' lines beside it.

    Every scalar stays the text it was written as (plain `null`, `~` or nothing is None):
    nothing becomes a date, a number or true/false behind the schema's back. What a briefing
    never needs is refused: anchors and aliases, tags, keys that are not text, repeated keys.
    """
    if len(fm.encode("utf-8", "surrogatepass")) > MAX_FRONT_MATTER_BYTES:
        raise BuildError(f"{what.name} is {len(fm.encode('utf-8', 'surrogatepass')):,} bytes; the limit is "
                         f"{MAX_FRONT_MATTER_BYTES:,}{what.size_hint}", Origin(display, first_line))
    loader = None
    try:
        loader = _YAML_LOADER(fm)  # PyYAML's own reader checks the characters here
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return {}, {}
        loader.get_event()  # document start
        lines: dict[str, int] = {}
        data = _yaml_value(loader, first_line, display, what, 1, lines)
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            line = first_line + loader.peek_event().start_mark.line
            raise BuildError(f"{what.name} holds a second YAML document; remove the extra '---' or '...'",
                             Origin(display, line))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = first_line + (mark.line if mark else 0)
        problem = e.problem or e.context or "invalid YAML"
        raise BuildError(f"{what.invalid}: {problem}", Origin(display, line)) from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow, such as U+0080-U+009F
        char = e.character if isinstance(e.character, int) else ord(e.character)
        line = first_line + fm.count("\n", 0, max(0, fm.find(chr(char))))
        raise BuildError(f"{what.invalid}: character U+{char:04X} is not allowed in YAML; delete it",
                         Origin(display, line)) from None
    except yaml.YAMLError as e:
        problem = str(e).split("\n")[0]
        raise BuildError(f"{what.invalid}: {problem}", Origin(display, first_line)) from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise BuildError(f"{what.name} must be a mapping of 'key: value' lines", Origin(display, first_line))
    return data, lines


def _yaml_value(loader: Any, first_line: int, display: str, what: _YamlText, depth: int,
                key_lines: dict[str, int] | None = None) -> Any:
    """The value whose events come next: text, None, a list or a mapping of text keys."""
    event = loader.get_event()
    where = Origin(display, first_line + event.start_mark.line)
    if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
        raise BuildError(f"YAML anchors and aliases ('&name', '*name') are not allowed in {what.name}; "
                         "write the value out", where)
    if event.tag is not None:
        tag = event.tag.replace("tag:yaml.org,2002:", "!!")
        raise BuildError(f"YAML tags such as '{tag}' are not allowed in {what.name}; write the value as text", where)
    if isinstance(event, yaml.ScalarEvent):
        if event.implicit[0] and event.value in _YAML_NULL:
            return None
        if problems := control_characters(event.value):
            raise BuildError(f"{problems[0]} in {what.value}; delete it", where)
        if problem := _text_problem(event.value):
            raise BuildError(problem, where)
        return event.value
    if depth > MAX_YAML_DEPTH:
        raise BuildError(f"{what.name} nests lists and mappings more than {MAX_YAML_DEPTH} deep", where)
    if isinstance(event, yaml.SequenceStartEvent):
        items = []
        while not loader.check_event(yaml.SequenceEndEvent):
            items.append(_yaml_value(loader, first_line, display, what, depth + 1))
        loader.get_event()
        return items
    mapping: dict[str, Any] = {}
    while not loader.check_event(yaml.MappingEndEvent):
        key_event = loader.peek_event()
        key_line = first_line + key_event.start_mark.line
        key = _yaml_value(loader, first_line, display, what, depth + 1)
        if not isinstance(key, str):
            raise BuildError(f"{what.keys}, not a list, a mapping or nothing",
                             Origin(display, key_line))
        if key in mapping:
            first = key_lines.get(key) if key_lines is not None else None
            raise BuildError(f"key '{key}' appears twice" + (f" (first on line {first})" if first else ""),
                             Origin(display, key_line))
        mapping[key] = _yaml_value(loader, first_line, display, what, depth + 1)
        if key_lines is not None:
            key_lines[key] = key_line
    loader.get_event()
    return mapping


def _check_value(key: str, spec: Key, value: Any, where: Origin) -> tuple[Any, list[BuildError]]:
    """The value in the shape its key's type needs, or errors naming that shape."""
    if spec.type == "str":
        if not isinstance(value, str):
            return None, [BuildError(f"'{key}' must be text ({key}: some words), not {_yaml_type(value)}", where)]
        if spec.choices and value not in spec.choices:
            return None, [BuildError(f"'{key}' must be one of {', '.join(spec.choices)}; got '{value}'", where)]
        return value, []
    if spec.type == "int":
        if not isinstance(value, str) or not _WHOLE_NUMBER.fullmatch(value):
            shown = f"'{value}'" if isinstance(value, str) else _yaml_type(value)
            return None, [BuildError(f"'{key}' must be a whole number such as 2 (at most 9 digits), not {shown}", where)]
        return int(value), []
    if spec.type == "strlist":
        if not isinstance(value, list):
            return None, [BuildError(f"'{key}' must be a list of text items, one per line starting with '- ' "
                                     f"(or [a, b] on one line), not {_yaml_type(value)}", where)]
        errors = [BuildError(f"'{key}' item {i} must be text, not {_yaml_type(v)}", where)
                  for i, v in enumerate(value, 1) if not isinstance(v, str)]
        return (None, errors) if errors else (tuple(value), [])
    if spec.type == "mapping":
        if not isinstance(value, dict):
            return None, [BuildError(f"'{key}' must be a mapping of 'name: value' lines, not {_yaml_type(value)}", where)]
        return value, []
    if spec.type == "deck":
        return _check_deck(key, value, where)
    # figures: a list of {value, label, note}
    if not isinstance(value, list):
        return None, [BuildError(f"'{key}' must be a list of figures, each with 'value:', 'label:' "
                                 f"and optionally 'note:', not {_yaml_type(value)}", where)]
    figures, errors = [], []
    for i, item in enumerate(value, 1):
        if not isinstance(item, dict):
            errors.append(BuildError(f"'{key}' item {i} must have 'value' and 'label' keys, not be {_yaml_type(item)}", where))
            continue
        for k in item:
            if k not in FIGURE_KEYS:
                errors.append(BuildError(f"'{key}' item {i} has unknown key '{k}' (allowed: value, label, note)", where))
        for k, required in FIGURE_KEYS.items():
            if item.get(k) is None:
                if required:
                    errors.append(BuildError(f"'{key}' item {i} is missing '{k}'", where))
            elif not isinstance(item[k], str):
                errors.append(BuildError(f"'{key}' item {i}: '{k}' must be text, not {_yaml_type(item[k])}", where))
        figures.append({k: item.get(k) if isinstance(item.get(k), str) else "" for k in FIGURE_KEYS})
    return tuple(figures), errors


def _check_deck(key: str, value: Any, where: Origin) -> tuple[Any, list[BuildError]]:
    """`deck: {headline: text, points: [up to four texts]}`: what the slide says, written for it."""
    if not isinstance(value, dict):
        return None, [BuildError(f"'{key}' must be a mapping with 'headline:' and/or 'points:', not {_yaml_type(value)}", where)]
    errors = [BuildError(f"'{key}' has unknown key '{k}' (allowed: headline, points)", where)
              for k in value if k not in ("headline", "points")]
    headline, points = value.get("headline", ""), value.get("points", [])
    if not isinstance(headline, str):
        errors.append(BuildError(f"'{key}.headline' must be text, not {_yaml_type(headline)}", where))
    if not isinstance(points, list) or not all(isinstance(p, str) and p.strip() for p in points):
        errors.append(BuildError(f"'{key}.points' must be a list of text items, one per line starting with '- '", where))
    elif len(points) > DECK_POINTS:
        errors.append(BuildError(f"'{key}.points' has {len(points)} points; a slide takes at most {DECK_POINTS}", where))
    if errors:
        return None, errors
    return {"headline": headline, "points": tuple(points)}, []


def _is_iso_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
        return len(text) == 10
    except ValueError:
        return False


def _yaml_type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "empty"}[type(value)]


def _check_meta(data: dict[str, Any], lines: dict[str, int], display: str, fm_line: int) -> tuple[str, dict[str, Any], list[BuildError]]:
    kind = data.get("kind")
    at = lambda key: Origin(display, lines.get(key, fm_line))  # noqa: E731
    if kind not in KINDS:
        msg = "front matter needs 'kind:'" if kind is None else f"unknown kind '{kind}'"
        return "", {}, [BuildError(f"{msg}; use one of {', '.join(KINDS)}", at("kind"))]
    schema, meta, errors = SCHEMA[kind], {}, []
    for key, value in data.items():
        spec = schema.get(key)
        if spec is None:
            errors.append(BuildError(f"unknown key '{key}' for a {kind}; {_fix_for_key(key, schema)}", at(key)))
            continue
        if value is None:  # `key:` with nothing after it: as if absent
            continue
        checked, errs = _check_value(key, spec, value, at(key))
        errors += errs
        meta[key] = checked
    for key, spec in schema.items():
        if spec.required and data.get(key) is None:
            errors.append(BuildError(f"missing required key '{key}' for a {kind}",
                                     at(key) if key in data else Origin(display, fm_line - 1)))
        meta.setdefault(key, _DEFAULTS[spec.type])
    if kind == "section" and meta["role"] and not _ROLE.match(meta["role"]):
        errors.append(BuildError(f"'role' must be a lower-case name such as {', '.join(SECTION_ROLES)}; "
                                 f"got '{meta['role']}'", at("role")))
    return kind, meta, errors


def _fix_for_key(key: str, schema: dict[str, Key]) -> str:
    """What to do about an unknown front-matter key: the close one meant, or `extra:`."""
    close = difflib.get_close_matches(key, schema, n=1, cutoff=0.7)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"allowed: {', '.join(schema)}; put keys of your own under 'extra:'"


def _extract_notes(body: str, body_line: int, display: str) -> tuple[str, list[NoteDef]]:
    """Take `[^key]: text` definitions (with indented continuation lines) out of a body."""
    lines = body.split("\n")
    mask = _code_mask(lines)
    kept, defs, i = [], [], 0
    while i < len(lines):
        m = None if mask[i] else _DEF.match(lines[i])
        if not m:
            kept.append(lines[i])
            i += 1
            continue
        start, text = i, [m.group(2)]
        i += 1
        while i < len(lines):
            if lines[i].startswith(("    ", "\t")):
                text.append(lines[i][4:] if lines[i].startswith("    ") else lines[i][1:])
                i += 1
            elif not lines[i].strip() and i + 1 < len(lines) and lines[i + 1].startswith(("    ", "\t")):
                text.append("")
                i += 1
            else:
                break
        defs.append(NoteDef(m.group(1), "\n".join(text).strip(), Origin(display, body_line + start)))
    return "\n".join(kept), defs


def _refs(text: str, first_line: int, display: str) -> list[tuple[str, Origin]]:
    lines = text.split("\n")
    found = []
    for i, (line, in_code) in enumerate(zip(lines, _code_mask(lines))):
        if in_code or "^" not in line or _DEF.match(line):
            continue
        for m in _REF.finditer(_without_code_spans(line)):
            found.append((m.group(1), Origin(display, first_line + i)))
    return found


def _front_matter_refs(fm: str, first_line: int, display: str) -> list[tuple[str, Origin]]:
    """Citations in the front matter's values as written (a YAML comment is no text)."""
    found = []
    for event in yaml.parse(fm, Loader=_YAML_LOADER):
        if isinstance(event, yaml.ScalarEvent):
            found += _refs(fm[event.start_mark.index:event.end_mark.index], first_line + event.start_mark.line, display)
    return found


def _split_parts(body: str, body_line: int, display: str) -> tuple[dict[str, str], dict[str, int], list[BuildError]]:
    """A pillar's parts, each opened by '# Analysis' or '# Recommendations'; both are optional,
    and text before the first part heading is the analysis."""
    lines = body.split("\n")
    mask = _code_mask(lines)
    parts: dict[str, list[str]] = {name: [] for name in PILLAR_PARTS}
    heading_lines: dict[str, int] = {}
    current, errors = "analysis", []
    for i, (line, in_code) in enumerate(zip(lines, mask)):
        m = None if in_code else _PART.match(line)
        if not m:
            parts[current].append(line)
            continue
        name, where = m.group(1).strip().lower(), Origin(display, body_line + i)
        if name not in PILLAR_PARTS:
            errors.append(BuildError(f"a pillar's level-1 headings name its parts: '# Analysis' and "
                                     f"'# Recommendations', not '# {m.group(1)}'", where))
        elif name in heading_lines:
            errors.append(BuildError(f"part '# {m.group(1)}' appears twice", where))
        elif name == "analysis" and "".join(parts["analysis"]).strip():
            errors.append(BuildError("text stands before '# Analysis'; move it below that heading", where))
        else:
            heading_lines[name] = where.line
            current = name
    return {k: _text(v) for k, v in parts.items()}, heading_lines, errors


def _text(lines: list[str]) -> str:
    """Lines joined with one final newline, or "" when they hold no text."""
    text = "\n".join(lines).strip("\n")
    return text + "\n" if text.strip() else ""


def _check_structure(body: str, body_line: int, display: str) -> list[BuildError]:
    """The limits on nesting, paragraph length, open brackets and tables, in one pass over the lines.

    Python-Markdown recurses once per level of nested lists and quotes, and scans from each '['
    to its ']' (quadratic in the nesting), so both are bounded before the text reaches it.
    Each limit is reported once per file, at the first line that passes it.
    """
    lines = body.split("\n")
    found: dict[str, BuildError] = {}

    def exceeded(limit: str, message: str, line: int) -> None:
        found.setdefault(limit, BuildError(message, Origin(display, body_line + line)))

    unit_start, unit_chars, brackets, emphasis = 0, 0, (0, 0), _Emphasis()
    table_start, rows = -1, 0
    for i, (line, in_code) in enumerate(zip(lines, _code_mask(lines))):
        if in_code or not line.strip():
            unit_chars, brackets, rows, emphasis = 0, (0, 0), 0, _Emphasis()
            table_start = -1
            continue
        depth = _nesting(line)
        if depth > MAX_NESTING:
            exceeded("nesting", f"lists and block quotes nested {depth} deep; the limit is {MAX_NESTING}", i)
        if table_start < 0 and "|" in line and i > 0 and _TABLE_DELIMITER.match(line) and "|" in lines[i - 1]:
            table_start, rows = i, 0
            columns = line.strip().strip("|").count("|") + 1
            if columns > MAX_TABLE_COLUMNS:
                exceeded("columns", f"table has {columns} columns; the limit is {MAX_TABLE_COLUMNS}", i)
        elif table_start >= 0:
            rows += 1
            if rows > MAX_TABLE_ROWS:
                exceeded("rows", f"table has more than {MAX_TABLE_ROWS} rows (it starts at line "
                                 f"{body_line + table_start - 1}); split it", i)
        if not unit_chars or depth or table_start >= 0 or line.lstrip().startswith("#") or _DEF.match(line):
            unit_start, unit_chars, brackets = i, 0, (0, 0)  # a new paragraph, item, quote, row, heading or note
            emphasis = _Emphasis()
        unit_chars += len(line)
        if unit_chars > MAX_PARAGRAPH_CHARS:
            exceeded("paragraph", f"paragraph longer than {MAX_PARAGRAPH_CHARS:,} characters; add blank lines "
                                  "between its parts", unit_start)
        if run := _emphasis_run(line):
            exceeded("emphasis", f"a run of {run} '*' or '_' next to text nests emphasis more than "
                                 f"{MAX_INLINE_DEPTH} deep; write a literal '*' or '_' as '\\*' or '\\_'", i)
        elif (deep := emphasis.deepest(_without_code_spans(line))) > MAX_INLINE_DEPTH:
            exceeded("emphasis", _deep_emphasis(deep), i)
        brackets = _open_brackets(line, brackets)
        if problem := _brackets_problem(brackets):
            exceeded("brackets", problem, i)
    return list(found.values())


def _nesting(line: str) -> int:
    """How many lists and quotes a line opens or sits in, judged by its markers and indentation."""
    if _RULE.match(line):
        return 0
    depth, i, n = 0, 0, len(line)
    while True:
        j, columns = i, 0
        while j < n and line[j] in " \t":
            columns += 4 if line[j] == "\t" else 1
            j += 1
        if j < n and line[j] == ">":
            i = j + 1
        elif m := _LIST_MARKER.match(line, j):
            i = m.end()
        else:
            return depth
        depth += 1 + columns // 4


def _emphasis_run(line: str) -> int:
    """The length of a run of emphasis marks long enough to nest too deep (one touching text), or 0."""
    if "*" not in line and "_" not in line:
        return 0
    for m in _DELIMITER_RUN.finditer(line):
        before, after = line[m.start() - 1:m.start()], line[m.end():m.end() + 1]
        if before.strip() or after.strip():
            return len(m.group())
    return 0


class _Emphasis:
    """The emphasis marks of one paragraph, read line by line, to bound how deep they nest.

    A run of '*' or '_' with text before it closes the nearest open run of its mark (marks
    opened after that one stay unclosed); else, with text after it, it opens one, a level per
    two marks ('**' is one). A pair nests one level deeper than the deepest pair inside it.
    Linear in the runs: each opened run is closed or dropped once.
    """

    def __init__(self) -> None:
        self.stack: list[list] = []  # per open run: [mark, levels, deepest pair closed inside it]
        self.open: dict[str, list[int]] = {"*": [], "_": []}  # stack positions per mark

    def deepest(self, line: str) -> int:
        """How deep the deepest pair this line closes nests (0 when it closes none)."""
        deepest = 0
        if "*" not in line and "_" not in line:
            return deepest
        for m in _MARK_RUN.finditer(line):
            mark, before, after = m.group()[0], line[m.start() - 1:m.start()], line[m.end():m.end() + 1]
            if mark == "_" and before.isalnum() and after.isalnum():
                continue  # inside a word ('snake_case'): no emphasis
            if before.strip() and self.open[mark]:
                k = self.open[mark].pop()
                for entry in self.stack[k + 1:]:
                    self.open[entry[0]].pop()
                depth = self.stack[k][1] + max(entry[2] for entry in self.stack[k:])
                del self.stack[k:]
                if self.stack:
                    self.stack[-1][2] = max(self.stack[-1][2], depth)
                deepest = max(deepest, depth)
            elif after.strip():
                self.open[mark].append(len(self.stack))
                self.stack.append([mark, (len(m.group()) + 1) // 2, 0])
        return deepest


def _deep_emphasis(depth: int) -> str:
    return (f"emphasis nested {depth} deep; the limit is {MAX_INLINE_DEPTH}; write a literal '*' or '_' "
            "as '\\*' or '\\_'")


def _open_brackets(line: str, open_: tuple[int, int]) -> tuple[int, int]:
    """'[' and '(' still open after `line`, starting from `open_`; escaped ones do not count.

    Python-Markdown looks for the end of a link's text or target from each one still open.
    """
    square, round_ = open_
    for m in _BRACKET.finditer(line):
        match m.group():
            case "[":
                square += 1
            case "]":
                square = max(0, square - 1)
            case "(":
                round_ += 1
            case ")":
                round_ = max(0, round_ - 1)
        if max(square, round_) > MAX_BRACKET_DEPTH:
            break
    return square, round_


def _brackets_problem(open_: tuple[int, int]) -> str | None:
    for count, char in zip(open_, "[("):
        if count > MAX_BRACKET_DEPTH:
            return f"more than {MAX_BRACKET_DEPTH} '{char}' open at once; close them, or write a literal '{char}' as '\\{char}'"
    return None


def _without_code_spans(line: str) -> str:
    """`line` without its code spans: each run of backticks closes at the next run as long (linear)."""
    if "`" not in line:
        return line
    runs = [m.span() for m in _BACKTICKS.finditer(line)]
    later: dict[int, list[int]] = {}
    for i in reversed(range(len(runs))):
        later.setdefault(runs[i][1] - runs[i][0], []).append(i)  # per length, nearest run last
    out, kept, i = [], 0, 0
    while i < len(runs):
        start, end = runs[i]
        same = later[end - start]
        while same and same[-1] <= i:
            same.pop()
        if same:
            out.append(line[kept:start])
            i = same.pop()
            kept = runs[i][1]
        i += 1
    return "".join(out) + line[kept:]


def _text_problem(text: str) -> str | None:
    """Why a front-matter text cannot go into the Markdown, or None."""
    if problem := _brackets_problem(_open_brackets(text, (0, 0))):
        return problem
    depth = max(_nesting(line) for line in text.split("\n"))
    if depth > MAX_NESTING:
        return f"lists and block quotes nested {depth} deep; the limit is {MAX_NESTING}"
    emphasis = _Emphasis()
    deep = max(emphasis.deepest(_without_code_spans(line)) for line in text.split("\n"))
    return _deep_emphasis(deep) if deep > MAX_INLINE_DEPTH else None


def _check_images(text: str, first_line: int, display: str, root: Path) -> list[BuildError]:
    """Problems with the images a text shows; an image without alt text is a warning."""
    errors = []
    for i, line in enumerate(text.split("\n")):
        where = Origin(display, first_line + i)
        for src, start, end, alt in _images(line):
            if src is None:
                errors.append(BuildError("image alt text holds an unmatched ']'; write it as '\\]'", where))
                continue
            if not alt.strip():
                errors.append(BuildError(f"image '{src}' has no alt text, so a screen reader cannot say what it "
                                         f"shows; write ![what it shows]({src})", where, "warning"))
            if line[:start].strip() or line[end:].strip():
                errors.append(BuildError(f"image '{src}' must stand in a paragraph of its own "
                                         "(not in a list, a table or a line of text)", where))
            errors += [BuildError(msg, where) for msg in image_problems(src, root)]
    return errors


def _images(line: str) -> list[tuple[str | None, int, int, str]]:
    """Each `![alt](src)` on a line as (src, start, end, alt); src is None when the alt text holds a stray ']'."""
    found, i = [], line.find("![")
    while i != -1:
        depth, j = 0, i + 2
        while j < len(line) and not (line[j] == "]" and depth == 0):
            depth += {"[": 1, "]": -1}.get(line[j], 0)
            j += 2 if line[j] == "\\" else 1
        m = _IMAGE_TARGET.match(line, j + 1)
        if m:
            found.append((m.group(1) if m.group(1) is not None else m.group(2), i, m.end(), line[i + 2:j]))
        elif _STRAY_BRACKET.match(line, j + 1):
            found.append((None, i, len(line), ""))
        i = line.find("![", m.end() if m else j + 1)
    return found


def image_problems(src: str, root: Path) -> list[str]:
    """Why an image reference cannot be used; empty when it can."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", src):
        return [f"image '{src}' is not a file in the content folder; remote images are not fetched"]
    target = (root / src).resolve()
    if not target.is_relative_to(root.resolve()):
        return [f"image '{src}' lies outside the content folder; refused"]
    try:
        st = target.stat()
    except OSError:
        return [f"image '{src}' does not exist"]
    problem = _image_file_problem(target, st.st_mtime_ns, st.st_size)
    return [f"image '{src}' {problem}"] if problem else []


@functools.lru_cache(maxsize=256)
def _image_file_problem(target: Path, mtime_ns: int, size: int) -> str | None:
    """Checked once per version of a file (loading and each parse ask again)."""
    try:
        data = read_regular(target, str(target), MAX_IMAGE_BYTES)
    except BuildError as e:
        return f"cannot be used: {e.message}"
    return image_problem(data)


@dataclass(frozen=True, slots=True)
class _Read:
    """What a file's text alone gives; its images and what other files say are checked at each load."""

    errors: tuple[BuildError, ...]  # found before its images are checked
    source: Source | None = None  # None: the file cannot be used
    defs: tuple[NoteDef, ...] = ()
    refs: tuple[tuple[str, Origin], ...] = ()
    images: tuple[str, int] = ("", 1)  # the text whose images are checked, and its first line
    later: tuple[BuildError, ...] = ()  # found after: its parts, the briefing's own keys


@functools.lru_cache(maxsize=1024)
def _read_file(display: str, text: str) -> _Read:
    """One content file's text read and checked (once per text: `watch` loads the folder again
    after each saved edit, and most files are as they were)."""
    fm, fm_line, body, body_line = split_front_matter(text, display)
    data, key_lines = _parse_yaml(fm, fm_line, display)
    kind, meta, errors = _check_meta(data, key_lines, display, fm_line)
    if not kind:
        return _Read(tuple(errors))
    if limits := _check_structure(body, body_line, display):
        return _Read(tuple(errors + limits))  # and no other scan of a text beyond the limits
    body, defs = _extract_notes(body, body_line, display)
    refs = _front_matter_refs(fm, fm_line, display) + _refs(body, body_line, display)
    later: list[BuildError] = []
    parts: dict[str, str] = {}
    part_lines: dict[str, int] = {}
    if kind == "pillar":
        parts, part_lines, later = _split_parts(body, body_line, display)
    elif kind == "briefing" and meta.get("date_iso") and not _is_iso_date(meta["date_iso"]):
        later.append(BuildError(f"'date_iso' must be a date written YYYY-MM-DD, not '{meta['date_iso']}'",
                                Origin(display, key_lines["date_iso"])))
    elif kind == "briefing" and not meta.get("date_iso") and _is_iso_date(meta.get("date", "")):
        meta["date_iso"] = meta["date"]  # an ISO display date also fixes the timestamps
    if kind == "briefing" and meta.get("slug") and (problem := stem_problem(meta["slug"])):
        later.append(BuildError(f"'slug' names the files of `dist`: {problem}", Origin(display, key_lines["slug"])))
    if kind == "briefing" and body.strip():
        later.append(BuildError("the briefing file holds front matter only; put text in a section or pillar file", Origin(display, body_line)))
    source = Source(display, kind, meta, _text(body.split("\n")), parts, key_lines, part_lines, body_line)
    return _Read(tuple(errors), source, tuple(defs), tuple(refs), (body, body_line), tuple(later))


def load_content(content_dir: Path, *, strict: bool = False) -> Content:
    root = Path(content_dir)
    display_root = str(content_dir).rstrip("/")
    if not root.is_dir():
        raise BuildError(f"content folder '{display_root}' does not exist")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() == ".md" and not p.name.startswith("."))
    if not files:
        raise BuildError("the folder holds no .md files; write the briefing there (one .md file per part), "
                         "or start one with `briefkit new DIR`", Origin(display_root, 0))
    errors: list[BuildError] = []
    sources: list[Source] = []
    defs: list[NoteDef] = []
    refs: list[tuple[str, Origin]] = []
    orders: dict[int, str] = {}
    image_warnings: list[BuildError] = []
    for path in files:
        display = f"{display_root}/{path.name}"
        try:
            read = _read_file(display, decode(path, display))
        except BuildError as e:
            errors.append(e)
            continue
        except BuildErrors as e:
            errors += e.findings
            continue
        errors += read.errors
        if read.source is None:
            continue
        s = read.source
        defs += read.defs
        refs += read.refs
        for finding in _check_images(*read.images, display, root):
            (image_warnings if finding.severity == "warning" else errors).append(finding)
        errors += read.later
        if s.kind == "pillar" and isinstance(order := s.meta.get("order"), int):
            if order in orders:
                errors.append(BuildError(f"pillar order {order} is also used by {orders[order]}", Origin(display, s.key_lines["order"])))
            orders[order] = display
        sources.append(s)

    briefings = [s for s in sources if s.kind == "briefing"]
    if len(briefings) > 1:
        errors.append(BuildError(f"a second file with 'kind: briefing' (the first is {briefings[0].path})",
                                 Origin(briefings[1].path, 1)))
    elif not briefings and not errors:
        errors.append(BuildError("no file here has 'kind: briefing'; add one for the title and authors", Origin(display_root, 0)))
    if sources and not errors and not any(s.kind == "pillar" for s in sources):
        errors.append(BuildError("no file here has 'kind: pillar'; add one file per policy pillar "
                                 "(`briefkit new DIR` writes an example)", Origin(display_root, 0)))
    sections: dict[str, Source] = {}
    for s in sources:
        role = s.meta.get("role") if s.kind == "section" else None
        if role in sections:
            errors.append(BuildError(f"a second section with 'role: {role}' (the first is {sections[role].path})",
                                     Origin(s.path, s.key_lines["role"])))
        elif role:
            sections[role] = s

    if len(defs) > MAX_NOTES:
        errors.append(BuildError(f"{len(defs):,} notes are defined; the limit is {MAX_NOTES:,}", Origin(display_root, 0)))
    notes: dict[str, NoteDef] = {}
    for d in defs:
        if d.key in notes:
            first = notes[d.key].origin
            errors.append(BuildError(f"note [^{d.key}] is defined twice (first at {first.path}:{first.line})", d.origin))
        else:
            notes[d.key] = d
    cited = set()
    for key, origin in refs:
        cited.add(key)
        if key not in notes:
            errors.append(BuildError(f"note [^{key}] is cited but never defined", origin))
    cited_in_notes = set()
    for d in notes.values():
        for key, origin in _refs(d.text, d.origin.line, d.origin.path):
            cited_in_notes.add(key)
            if key not in notes:
                errors.append(BuildError(f"note [^{key}] is cited in note [^{d.key}] but never defined", origin))
            elif key == d.key:
                errors.append(BuildError(f"note [^{key}] cites itself", origin))
            elif key not in cited:
                errors.append(BuildError(f"note [^{key}] is cited only inside note [^{d.key}]; cite it in the text "
                                         "too (endnotes are numbered by their citations in the text)", origin))
    warnings = [BuildError(f"note [^{d.key}] is defined but never cited", d.origin, "warning")
                for d in notes.values() if d.key not in cited | cited_in_notes] + image_warnings
    if strict:
        errors += [w.as_error() for w in warnings]
        warnings = []
    if errors:
        raise BuildErrors(errors + warnings)
    return Content(
        root=display_root,
        briefing=briefings[0],
        sections=sections,
        roleless=tuple(s for s in sources if s.kind == "section" and not s.meta["role"]),
        pillars=tuple(sorted((s for s in sources if s.kind == "pillar"), key=lambda s: s.meta["order"])),
        notes=notes,
        cited=frozenset(cited),
        warnings=tuple(warnings),
    )


def read_theme_file(path: Path, display: str) -> dict[str, Any]:
    """The theme file's YAML mapping; its messages name the theme file."""
    if not path.is_file():
        raise BuildError(f"'{display}' does not exist")
    return _theme_mapping(display, decode(path, display))


@functools.lru_cache(maxsize=8)
def _theme_mapping(display: str, text: str) -> dict[str, Any]:
    return _parse_yaml(text, 1, display, _THEME)[0]
