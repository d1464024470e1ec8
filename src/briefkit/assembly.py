"""Compose content into one Markdown text per deliverable with jinja2 templates.

Content goes into templates as data: `{{ pillar.meta.summary }}` inserts the text, which
is never compiled as template code, so a `{{` typed in content comes out literally.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import jinja2

from briefkit.errors import BuildError, Origin
from briefkit.loading import Content
from briefkit.model import note_label
from briefkit.templates import Templates


def _environment(templates: Templates) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in templates.folders]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["roman"] = lambda n: note_label(int(n), "lower-roman").upper()
    env.filters["key_sentences"] = key_sentences
    env.filters["cell"] = lambda text: " ".join(str(text).split()).replace("|", "\\|")
    return env


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


def _template_origin(templates: Templates, exc: BaseException) -> Origin | None:
    """The template line jinja2 was running when `exc` was raised."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return Origin(templates.display(Path(frame.filename)), frame.lineno or 1)
    return None


def assemble(content: Content, templates: Templates, template_name: str) -> str:
    """Render `template_name` with the briefing's content; the result is Markdown."""
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
            sections=content.sections,
            pillars=content.pillars,
        )
    except jinja2.TemplateError as e:
        raise BuildError(f"template error: {e.message or e}", _template_origin(templates, e)) from None
