"""Compose content into one Markdown text per deliverable with jinja2 templates.

Content goes into templates as data: `{{ pillar.meta.summary }}` inserts the text, which
is never compiled as template code, so a `{{` typed in content comes out literally.

Templates see each content file through a view that notes what they looked for: a summary,
a recommendations list, a part or a section's text that a template used but the content
lacks becomes a warning at that file's line, and so does a section no template places.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from briefkit import __version__
from briefkit.errors import BuildError, Origin
from briefkit.loading import SECTION_ROLES, Content, Source
from briefkit.model import note_label
from briefkit.templates import Templates


def _environment(templates: Templates) -> jinja2.Environment:
    return _environment_of(tuple(str(f.resolve()) for f in templates.folders))


# how the templates are compiled: compiled code made under other settings is never reused
_SETTINGS = dict(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                 trim_blocks=True, lstrip_blocks=True)


@functools.lru_cache(maxsize=8)
def _environment_of(folders: tuple[str, ...]) -> jinja2.Environment:
    """One environment per set of template folders and process: it compiles each template once,
    and again only when its file changes (jinja2's auto_reload), so `watch` does not recompile."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(list(folders)), bytecode_cache=_CompiledTemplates.here(),
                             **_SETTINGS)
    env.filters["roman"] = lambda n: note_label(int(n), "lower-roman").upper()
    env.filters["key_sentences"] = key_sentences
    env.filters["lead_ins"] = lead_ins
    env.filters["section_paragraphs"] = section_paragraphs
    env.filters["cell"] = lambda text: " ".join(str(text).split()).replace("|", "\\|")
    return env


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Templates compiled once and kept in the user's cache folder, as Python keeps .pyc files
    (compiling the deck's template takes longer than parsing a short briefing). An entry serves
    only the same file, source, settings and versions; a cache that cannot be read or written
    only costs the compiling."""

    @classmethod
    def here(cls) -> _CompiledTemplates | None:
        try:
            cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        except RuntimeError:  # no home folder
            return None
        return cls(str(cache / "briefkit" / "templates"))

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        settings = f"{filename}\0briefkit {__version__}\0jinja2 {jinja2.__version__}\0{sorted(_SETTINGS.items(), key=str)}"
        return super().get_cache_key(name, settings)

    def load_bytecode(self, bucket) -> None:
        with contextlib.suppress(OSError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket) -> None:
        with contextlib.suppress(OSError):
            Path(self.directory).mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)


_NOTE_REF = re.compile(r"\[\^[^\]\s]+\]")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]”’'\"]{2}[.!?])\s+(?=[A-Z“\"])")


def key_sentences(markdown_text: str, limit: int = 0) -> str:
    """The first sentence of each paragraph, one line each, without note markers.

    Speaker notes use it to give a presenter the key lines of a longer text.
    """
    lines = []
    for block in re.split(r"\n\s*\n", str(markdown_text)):
        block = " ".join(block.split())
        if not block or block.startswith(("#", "|", "!!!", "```", "![")):
            continue
        block = re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", block)
        first = _SENTENCE_END.split(_NOTE_REF.sub("", block), maxsplit=1)[0].strip()
        if first:
            lines.append(first)
    return "\n".join(lines[:limit] if limit else lines)


_LEAD_IN = re.compile(r"^\*\*(.+?)\*\*")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s+")
_NOT_PROSE = ("#", "|", "!!!", "```", "![", "[^")


def lead_ins(markdown_text: str) -> list[dict]:
    """The recommendations of a part, grouped under its `##` headings: each one's lead-in (a
    `###` heading or a paragraph's bold lead sentence) and the sentence after it, which says
    what it involves. A part with neither is read as plain paragraphs or a plain list: each
    paragraph or list item is a recommendation, its first sentence the lead-in and its second
    the detail. [{"heading": ..., "items": [{"lead": ..., "detail": ...}]}]"""
    blocks = re.split(r"\n\s*\n", str(markdown_text))
    groups: list[dict] = [{"heading": "", "items": []}]
    for block in blocks:
        block = " ".join(block.split())
        items = groups[-1]["items"]
        if block.startswith("## "):
            groups.append({"heading": block[3:].strip(" #"), "items": []})
        elif block.startswith("### "):
            items.append({"lead": block[4:].strip(" #"), "detail": ""})
        elif m := _LEAD_IN.match(block):
            items.append({"lead": m.group(1).strip(), "detail": _first_sentence(block[m.end():])})
        elif items and not items[-1]["detail"] and not block.startswith(_NOT_PROSE):
            items[-1]["detail"] = _first_sentence(block)
    found = [g for g in groups if g["items"]]
    return found or _plain_lead_ins(blocks)


def _plain_lead_ins(blocks: list[str]) -> list[dict]:
    """Recommendations written as plain paragraphs or list items, grouped under `##` headings."""
    groups: list[dict] = [{"heading": "", "items": []}]
    for block in blocks:
        if not block.strip():
            continue
        if block[0] in " \t":  # an indented block continues the list item before it
            continue
        joined = " ".join(block.split())
        if joined.startswith("## "):
            groups.append({"heading": joined[3:].strip(" #"), "items": []})
        elif not joined.startswith(_NOT_PROSE):
            for text in _list_items(block):
                sentences = _SENTENCE_END.split(_NOTE_REF.sub("", text).strip(), maxsplit=2)
                if sentences[0].strip():
                    groups[-1]["items"].append({"lead": sentences[0].strip(),
                                                "detail": sentences[1].strip() if len(sentences) > 1 else ""})
    return [g for g in groups if g["items"]]


def _list_items(block: str) -> list[str]:
    """A block's list items (their own lines, without nested items), or the block as one paragraph."""
    lines = block.strip("\n").split("\n")
    if not _LIST_ITEM.match(lines[0]):
        return [" ".join(block.split())]
    items: list[list[str]] = []
    nested = False
    for line in lines:
        if _LIST_ITEM.match(line):
            items.append([_LIST_ITEM.sub("", line)])
            nested = False
        elif _LIST_ITEM.match(line.lstrip()):
            nested = True  # a nested item belongs to its parent, which its first sentences lead
        elif not nested:
            items[-1].append(line)
    return [" ".join(" ".join(item).split()) for item in items]


def section_paragraphs(markdown_text: str) -> str:
    """A text as prose for a slide: one paragraph per heading's section, which leads with the
    section's first sentence (a text without headings keeps its paragraphs). Tables, callouts,
    images, code and note definitions are left out; list items are kept as sentences."""
    sections: list[list[str]] = [[]]
    headed = False
    for block in re.split(r"\n\s*\n", str(markdown_text)):
        if not block.strip() or block[0] in " \t":  # indented: a callout's text, code, a list item's continuation
            continue
        joined = " ".join(block.split())
        if re.match(r"#{1,6} ", joined):
            sections.append([])
            headed = True
        elif not joined.startswith(_NOT_PROSE):
            sections[-1] += _list_items(block)
    if not headed:
        return "\n\n".join(p for p in sections[0])
    return "\n\n".join(" ".join(s) for s in sections if s)


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(_NOTE_REF.sub("", text).strip(), maxsplit=1)[0].strip()


def _template_origin(templates: Templates, exc: BaseException) -> Origin | None:
    """The template line jinja2 was running when `exc` was raised."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return Origin(templates.display(Path(frame.filename)), frame.lineno or 1)
    return None


# Optional front-matter keys whose absence a template notices (others, such as figures, are extras).
EXPECTED_KEYS = ("summary", "recommendations")


@dataclass
class Uses:
    """What the templates of one build looked for in the content."""

    missing: dict[tuple[str, int, str], list[str]] = field(default_factory=dict)  # (path, line, what) -> templates
    roles: set[str] = field(default_factory=set)  # section roles the templates asked for

    def lack(self, source: Source, line: int, what: str, template: str) -> None:
        names = self.missing.setdefault((source.path, line, what), [])
        if template not in names:
            names.append(template)

    def warnings(self, content: Content, every_template: bool) -> list[BuildError]:
        """One warning per text a template wanted and did not find; with `every_template`
        (all templates were rendered), also one per section that none of them places."""
        found = [BuildError(f"no {what} here, which {' and '.join(names)} "
                            f"{'uses' if len(names) == 1 else 'use'}; that part is left out", Origin(path, line), "warning")
                 for (path, line, what), names in sorted(self.missing.items())]
        if every_template:
            found += [BuildError(f"no template places a section with 'role: {role}' (the built-in ones place "
                                 f"{', '.join(SECTION_ROLES)}); its text is left out",
                                 Origin(s.path, s.key_lines.get("role", 1)), "warning")
                      for role, s in content.sections.items() if role not in self.roles]
        roles = " or ".join(f"'role: {r}'" for r in SECTION_ROLES)
        found += [BuildError(f"a section without a role is placed by no template; add {roles} to its front matter",
                             Origin(s.path, s.key_lines.get("kind", 1)), "warning") for s in content.roleless]
        return found


class _Fields(Mapping):
    """A source's front matter or parts, as templates read them; an empty expected value is noted."""

    def __init__(self, values: Mapping[str, Any], note: Any) -> None:
        self._values, self._note = values, note

    def __getitem__(self, key: str) -> Any:
        value = self._values.get(key, "")
        if not value:
            self._note(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class SourceView:
    """One content file as templates see it: `.meta`, `.body`, `.parts`."""

    def __init__(self, source: Source, uses: Uses, template: str) -> None:
        self._source, self._uses, self._template = source, uses, template
        self.meta = _Fields(source.meta, self._lack_key)
        self.parts = _Fields(source.parts, self._lack_part)

    def _lack_key(self, key: str) -> None:
        if key in EXPECTED_KEYS:
            self._uses.lack(self._source, self._source.key_lines.get(key, self._source.key_lines.get("kind", 1)),
                            f"'{key}'", self._template)

    def _lack_part(self, part: str) -> None:
        line = self._source.part_lines.get(part, self._source.body_line)
        self._uses.lack(self._source, line, f"'# {part.title()}' text", self._template)

    @property
    def body(self) -> str:
        if not self._source.body:
            self._uses.lack(self._source, self._source.body_line, "text after the front matter", self._template)
        return self._source.body


class _Absent(jinja2.ChainableUndefined):
    """A section no file has: false in `{% if %}`, chainable, and an error when printed."""

    __slots__ = ()
    __str__ = jinja2.Undefined._fail_with_undefined_error


class _Sections(Mapping):
    """Sections by role; a role no file has is a false value (`{% if sections.conclusion %}`)."""

    def __init__(self, sections: dict[str, Source], uses: Uses, template: str) -> None:
        self._views = {role: SourceView(s, uses, template) for role, s in sections.items()}
        self._uses = uses

    def __getitem__(self, role: str) -> Any:
        self._uses.roles.add(role)
        if role in self._views:
            return self._views[role]
        ref = f"sections.{role}" if role.isidentifier() else f'sections["{role}"]'
        return _Absent(hint=f"no section has 'role: {role}'; test for it with {{% if {ref} %}}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)


def assemble(content: Content, templates: Templates, template_name: str, uses: Uses | None = None) -> str:
    """Render `template_name` with the briefing's content; the result is Markdown.

    What the template looked for and did not find is noted in `uses`."""
    uses = Uses() if uses is None else uses
    env = _environment(templates)
    try:
        template = env.get_template(template_name)
    except jinja2.TemplateNotFound:
        raise BuildError(f"template '{template_name}' does not exist in {templates.folders[0]}") from None
    except jinja2.TemplateSyntaxError as e:
        where = Origin(templates.display(Path(e.filename or template_name)), e.lineno or 1)
        raise BuildError(f"template syntax error: {e.message}", where) from None
    try:
        return template.render(
            briefing=content.briefing.meta,
            sections=_Sections(content.sections, uses, template_name),
            pillars=[SourceView(p, uses, template_name) for p in content.pillars],
        )
    except jinja2.TemplateError as e:
        raise BuildError(f"template error: {e.message or e}", _template_origin(templates, e)) from None
