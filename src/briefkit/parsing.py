"""Parse Markdown once with Python-Markdown and map its element tree to the model.

Raw HTML and character entities are not interpreted: `<b>` and `&amp;` stay literal text.
Only http, https and mailto links are kept as links; any other target shows as text. Bare
http(s) URLs in text become links (as Pandoc's autolink_bare_uris), and straight quotes,
`--`, `---` and `...` in prose become typographic ones (code and URLs are left as typed).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from pathlib import Path

import markdown
from markdown.extensions.admonition import AdmonitionExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.smarty import SmartyExtension
from markdown.extensions.tables import TableExtension
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import InlineProcessor as InlinePass, Treeprocessor

from briefkit.errors import BuildError
from briefkit.kept import keep
from briefkit.limits import MAX_INLINE_DEPTH
from briefkit.loading import image_problems
from briefkit.model import (Block, BulletList, Callout, Code, CodeBlock, Document, Emph, Heading, Image,
                            Inline, LineBreak, Link, Meta, NoteRef, OrderedList, Paragraph, Quote, Rule,
                            Strong, Table, Text)

SAFE_SCHEMES = ("http", "https", "mailto")
_SPACES = re.compile(r"[ \t]{2,}|\t")  # in prose, as in HTML and Pandoc: one space
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})[^`]*$")


class _NoteRefPattern(InlineProcessor):
    def handleMatch(self, m, data):  # noqa: N802 (Python-Markdown's name)
        el = etree.Element("noteref")
        el.set("key", m.group(1))
        return el, m.start(0), m.end(0)


class _BareUrlPattern(InlineProcessor):
    """`https://example.org/a?b=1` in running text: a link showing the URL as typed."""

    def handleMatch(self, m, data):  # noqa: N802
        url = m.group(0).rstrip(".,;:!?'\"’”")
        while url.endswith(")") and url.count(")") > url.count("("):
            url = url[:-1]
        el = etree.Element("a")
        el.set("href", url)
        el.text = markdown.util.AtomicString(url)
        return el, m.start(0), m.start(0) + len(url)


# typographic characters for smarty (its defaults are HTML entities, which we never interpret)
_SMART = {"mdash": "—", "ndash": "–", "ellipsis": "…", "left-single-quote": "‘",
          "right-single-quote": "’", "left-double-quote": "“", "right-double-quote": "”",
          "left-angle-quote": "«", "right-angle-quote": "»"}
_STASHED = re.compile("\x02wzxhzdk:(\\d+)\x03")


class _FencesToIndented(Preprocessor):
    """Fenced code becomes indented code, which the core parser keeps as elements."""

    def run(self, lines):
        out, fence = [], ""
        for line in lines:
            if fence:
                if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                    fence = ""
                    out.append("")
                else:
                    out.append("    " + line)
                continue
            m = _FENCE_OPEN.match(line)
            if m:
                fence = m.group(1)
                out.append("")
            else:
                out.append(line)
        return out


class _UrlTextAsTyped(Treeprocessor):
    """Link text that is itself an address (`www.example.org/it's`) is kept from smarty."""

    def run(self, root):
        for a in root.iter("a"):
            if len(a) == 0 and a.text and _URL_TEXT.match(a.text):
                a.text = markdown.util.AtomicString(a.text)
        return root


_URL_TEXT = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|www\.)\S+$", re.I)


class _Capture(Treeprocessor):
    """Keeps the tree, with smarty's characters (held in the HTML stash) put back in the text."""

    def run(self, root):
        stash = self.md.htmlStash.rawHtmlBlocks
        if stash:
            def unstash(text):
                return _STASHED.sub(lambda m: stash[int(m.group(1))], text) if text else text

            for el in root.iter():
                el.text, el.tail = unstash(el.text), unstash(el.tail)
        self.md.captured = root
        return root


# Per pattern, one or two strings of which any text it can match holds one (tests/test_parsing.py
# checks each against its expression); a pattern not named here is always tried
PATTERN_NEEDS = {
    "backtick": ("`",), "escape": ("\\",), "reference": ("[",), "link": ("[",), "image_link": ("![",),
    "image_reference": ("![",), "short_reference": ("[",), "short_image_ref": ("![",), "autolink": ("<",),
    "linebreak": ("  \n",), "em_strong": ("*", "_"), "noteref": ("[^",), "bare_url": ("http",),
    "smarty-ellipses": ("...",), "smarty-em-dashes": ("---",), "smarty-en-dashes": ("--",),
    **{f"smarty-quotes-{i}": ("'", '"') for i in range(15)},
}


class _QuickInlinePass(InlinePass):
    """Python-Markdown's inline pass (its own or smarty's), trying a pattern on a text only where
    the text holds what the pattern needs and its expression occurs: the same tree, without the
    pass's bookkeeping for each of the many patterns that cannot match (most of the parse's time)."""

    def __init__(self, md, patterns) -> None:
        """`patterns`: the pass's registry, complete (the parser is configured before the passes are made)."""
        super().__init__(md)
        self.inlinePatterns = patterns
        needs = {id(patterns[name]): strings for name, strings in PATTERN_NEEDS.items() if name in patterns}
        # in priority order, as indexing the registry gives them
        self._patterns = [(pattern, *(needs.get(id(pattern), ("",)) * 2)[:2], isinstance(pattern, InlineProcessor))
                          for pattern in patterns]

    def _InlineProcessor__handleInline(self, data, patternIndex=0):  # noqa: N802 (overrides __handleInline)
        if isinstance(data, markdown.util.AtomicString):
            return data
        patterns, start = self._patterns, 0
        while patternIndex < len(patterns):
            pattern, need, or_need, searchable = patterns[patternIndex]
            if searchable and (need not in data and or_need not in data or pattern.compiled_re.search(data, start) is None):
                matched, start = False, 0  # what applying it would have found
            else:
                data, matched, start = self._InlineProcessor__applyPattern(pattern, data, patternIndex, start)
            if not matched:
                patternIndex += 1
        return data


class _Extension(markdown.Extension):
    def extendMarkdown(self, md):  # noqa: N802
        md.preprocessors.deregister("html_block")
        for name in ("html", "entity", "automail"):
            md.inlinePatterns.deregister(name)
        md.preprocessors.register(_FencesToIndented(md), "fences", 29)
        md.inlinePatterns.register(_NoteRefPattern(r"\[\^([^][\s]+)\]", md), "noteref", 175)
        # after links and <autolinks> (120), before emphasis, so a URL's '_' or '*' stay as typed
        md.inlinePatterns.register(_BareUrlPattern(r"(?<![\w/@<])https?://[^\s<>\[\]]+", md), "bare_url", 115)
        md.treeprocessors.register(_UrlTextAsTyped(md), "url_text", 10)  # after inlines (20), before smarty (6)
        md.treeprocessors.register(_Capture(md), "capture", -100)


# Sections already parsed, by their text and image folder. The memo and the deck share most of
# their text, notes repeat across templates, and `watch` edits one pillar at a time.
_PARSED: dict[tuple[str, str], tuple[Block, ...]] = {}
MAX_PARSED = 50_000
_HEADING_LINE = re.compile(r"^#{1,6}(?:[ \t]|$)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:", re.M)


def sections(text: str) -> list[str]:
    """The text cut before each heading line that follows a blank line outside fenced code, where
    no Markdown block runs on, so that each part parses as it does within the whole. A text with
    a link reference definition (`[id]: url`), which holds for the whole text, stays whole."""
    if _REFERENCE_DEFINITION.search(text):
        return [text]
    lines, out, start, fence, blank = text.split("\n"), [], 0, "", True
    for i, line in enumerate(lines):
        stripped = line.strip()
        if fence:  # as _FencesToIndented closes a fence
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                fence = ""
        elif m := _FENCE_OPEN.match(line):
            fence = m.group(1)
        elif blank and i > start and _HEADING_LINE.match(line):
            out.append("\n".join(lines[start:i]))
            start = i
        blank = not stripped
    return out + ["\n".join(lines[start:])]


class Parser:
    """One configured Python-Markdown instance, reused for every text of a build."""

    def __init__(self, image_root: Path | None = None) -> None:
        # extensions as objects: by name, Python-Markdown would look them up among installed packages
        self._md = md = markdown.Markdown(extensions=[TableExtension(), AdmonitionExtension(), SaneListExtension(),
                                                      _Extension(), SmartyExtension(substitutions=_SMART)])
        for name, priority in (("inline", 20), ("smarty", 6)):  # the priorities they register with
            md.treeprocessors.register(_QuickInlinePass(md, md.treeprocessors[name].inlinePatterns), name, priority)
        md.serializer = lambda root: "<div></div>"  # the tree is what we read: its HTML would go unused
        self._image_root = image_root
        self._top: etree.Element = etree.Element("p")

    def blocks(self, text: str) -> tuple[Block, ...]:
        """The text's blocks, parsed section by section (see `sections`); a section parsed before
        in this process, by this or another parser for the same folder, is not parsed again."""
        out: list[Block] = []
        for section in sections(text):
            key = (section, str(self._image_root))
            found = _PARSED.get(key)
            if found is None:
                found = self._parse(section)
                if "![" not in section:  # an image's file is checked on every build
                    keep(_PARSED, key, found, MAX_PARSED)
            out += found
        return tuple(out)

    def _parse(self, text: str) -> tuple[Block, ...]:
        self._md.reset()
        self._md.captured = None
        self._md.convert(text)
        root = self._md.captured
        blocks: list[Block] = []
        for el in root if root is not None else ():
            self._top = el  # named in messages about what lies inside it
            blocks += self._block(el)
        return tuple(blocks)

    def document(self, text: str, meta: Meta) -> Document:
        return Document(meta, self.blocks(text))

    # blocks ------------------------------------------------------------------

    def _block(self, el: etree.Element) -> list[Block]:
        match el.tag:
            case "h1" | "h2" | "h3" | "h4" | "h5" | "h6":
                return [Heading(int(el.tag[1]), self._inlines(el))]
            case "p":
                if len(el) == 1 and el[0].tag == "img" and not (el.text or "").strip() and not (el[0].tail or "").strip():
                    return [self._image(el[0])]
                inlines = self._inlines(el)
                return [Paragraph(inlines)] if inlines else []
            case "ul":
                return [BulletList(tuple(self._item(li) for li in el))]
            case "ol":
                return [OrderedList(tuple(self._item(li) for li in el), int(el.get("start", "1")))]
            case "blockquote":
                return [Quote(tuple(b for child in el for b in self._block(child)))]
            case "pre":
                code = el[0] if len(el) and el[0].tag == "code" else el
                return [CodeBlock(_unescape_code(code.text or "").rstrip("\n"))]
            case "table":
                return [self._table(el)]
            case "div" if "admonition" in el.get("class", "").split():
                classes = [c for c in el.get("class", "").split() if c != "admonition"]
                title, body = "", list(el)
                if body and body[0].tag == "p" and "admonition-title" in body[0].get("class", ""):
                    title, body = "".join(body[0].itertext()), body[1:]
                return [Callout(classes[0] if classes else "note", title, tuple(b for c in body for b in self._block(c)))]
            case "hr":
                return [Rule()]
        raise BuildError(f"unsupported Markdown element <{el.tag}>")

    def _item(self, li: etree.Element) -> tuple[Block, ...]:
        """A list item: loose items hold blocks; tight ones hold inlines, maybe then blocks."""
        blocks: list[Block] = []
        run = etree.Element("p")
        run.text = li.text
        for child in li:
            if child.tag in ("p", "ul", "ol", "blockquote", "pre", "table", "div", "hr") or child.tag.startswith("h"):
                if len(run) or (run.text or "").strip():
                    blocks += self._block(run)
                run = etree.Element("p")
                run.text = child.tail
                tail, child.tail = child.tail, None
                blocks += self._block(child)
                child.tail = tail
            else:
                run.append(child)
        if len(run) or (run.text or "").strip():
            blocks += self._block(run)
        return tuple(blocks)

    def _table(self, el: etree.Element) -> Table:
        header, rows, aligns = (), [], ()
        for section in el:
            for tr in section:
                cells = tuple(self._inlines(c) for c in tr)
                if section.tag == "thead":
                    header = cells
                    aligns = tuple(_align(c) for c in tr)
                else:
                    rows.append(cells)
        return Table(header, tuple(rows), aligns)

    def _image(self, el: etree.Element) -> Image:
        src, alt = el.get("src", ""), el.get("alt", "")
        if self._image_root is None:
            raise BuildError(f"image '{src}': images need a content folder")
        problems = image_problems(src, self._image_root)
        if problems:
            raise BuildError(problems[0])
        return Image(str((self._image_root / src).resolve()), alt)

    # inlines -----------------------------------------------------------------

    def _inlines(self, el: etree.Element, depth: int = 0) -> tuple[Inline, ...]:
        if depth > MAX_INLINE_DEPTH:
            raise BuildError(f"emphasis and links nested more than {MAX_INLINE_DEPTH} deep in "
                             f"the text starting '{_snippet(self._top)}'; write a literal '*' or '_' as '\\*' or '\\_'")
        out: list[Inline] = []
        _text(out, el.text)
        for child in el:
            out += self._inline(child, depth)
            _text(out, child.tail)
        return _merge(out)

    def _inline(self, el: etree.Element, depth: int) -> list[Inline]:
        match el.tag:
            case "em":
                return [Emph(self._inlines(el, depth + 1))]
            case "strong":
                return [Strong(self._inlines(el, depth + 1))]
            case "code":
                return [Code(_unescape_code(el.text or ""))]
            case "br":
                return [LineBreak()]
            case "noteref":
                return [NoteRef(el.get("key", ""))]
            case "a":
                # a bare URL inside link text is that text, not a second link
                children = _merge([c for n in self._inlines(el, depth + 1) for c in (n.children if isinstance(n, Link) else (n,))])
                url = el.get("href", "")
                scheme = url.split(":", 1)[0].lower() if ":" in url else ""
                return [Link(children, url)] if scheme in SAFE_SCHEMES else list(children)
            case "img":
                raise BuildError(f"image '{el.get('src', '')}' must stand in a paragraph of its own")
        raise BuildError(f"unsupported Markdown inline element <{el.tag}>")


def _text(out: list[Inline], text: str | None) -> None:
    if text:
        out.append(Text(text))


def _snippet(el: etree.Element) -> str:
    """The start of an element's text, to say where a problem is."""
    text = " ".join("".join(el.itertext())[:60].split())
    return text[:40] + ("…" if len(text) > 40 else "")


def _unescape_code(text: str) -> str:
    """Python-Markdown HTML-escapes code text; the model holds it as typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _merge(nodes: list[Inline]) -> tuple[Inline, ...]:
    """Join neighbouring Text nodes and fold soft line breaks into spaces."""
    out: list[Inline] = []
    for node in nodes:
        if isinstance(node, Text):
            node = Text(_SPACES.sub(" ", _fold_lines(node.text)))
            if out and isinstance(out[-1], LineBreak):
                node = Text(node.text.lstrip(" "))
            if out and isinstance(out[-1], Text):
                out[-1] = Text(out[-1].text + node.text)
                continue
        out.append(node)
    return tuple(out)


def _fold_lines(text: str) -> str:
    """Each line break, with the spaces and tabs around it, as one space (linear, unlike a regex
    that would try every position of a long run of tabs)."""
    if "\n" not in text:
        return text
    lines = text.split("\n")
    return " ".join([lines[0].rstrip(" \t"), *(line.strip(" \t") for line in lines[1:-1]), lines[-1].lstrip(" \t")])


def _align(cell: etree.Element) -> str:
    m = re.search(r"text-align:\s*(left|center|right)", cell.get("style", "") + " align:" + cell.get("align", ""))
    return m.group(1) if m else (cell.get("align") or "left")
