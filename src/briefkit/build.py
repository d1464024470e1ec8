"""The pipeline: load, assemble, parse once per template, number notes, render, write."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from briefkit import FORMATS, __version__
from briefkit.assembly import Uses, assemble
from briefkit.errors import BuildError, BuildErrors
from briefkit.glyphs import missing_glyphs
from briefkit.io import write_all
from briefkit.loading import Content, load_content
from briefkit.model import Document, Meta
from briefkit.notes import number_notes
from briefkit.parsing import Parser
from briefkit.stamp import build_time, stamped_zip
from briefkit.templates import Templates
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
    warnings: tuple[BuildError, ...]


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
        authors=m["authors"], date=m["date"], date_iso=m["date_iso"], subject=m["subject"], keywords=m["keywords"],
        language=m["language"] or "en-US", endnote_style=m["endnote_style"] or "lower-roman",
        slug=m["slug"] or "briefing",
    )


def prepare(content_dir: Path, template_dir: Path | None, formats: tuple[str, ...], *, strict: bool = False) -> Briefing:
    """Load and check content, then parse each template's Markdown once and number the notes.

    The memo template is always parsed: its citation order numbers the notes everywhere.
    """
    content = load_content(Path(content_dir), strict=strict)
    templates = Templates.of(template_dir)
    theme = load_theme(templates)
    parser = Parser(image_root=Path(content_dir))
    meta = meta_of(content)
    names = [MEMO_TEMPLATE] + sorted({DELIVERABLES[f].template for f in formats} - {MEMO_TEMPLATE})
    uses = Uses()
    docs = [parser.document(assemble(content, templates, name, uses), meta) for name in names]
    bodies = {key: _note_body(parser, d) for key, d in content.notes.items()}
    numbered = number_notes(docs[0], tuple(docs[1:]), bodies)
    shown = {note.key for doc in numbered for note in doc.endnotes}
    lost = [BuildError(f"note [^{key}] is cited, but no deliverable shows the citation "
                       "(is it in an extra table cell, or in a part no template uses?)", note.origin, "warning")
            for key, note in content.notes.items() if key in content.cited and key not in shown]
    lost += uses.warnings(content, every_template=set(names) == {d.template for d in DELIVERABLES.values()})
    findings = missing_glyphs(content, theme) + lost
    if findings and strict:
        raise BuildErrors([w.as_error() for w in findings])
    return Briefing(dict(zip(names, numbered)), theme, content, tuple(content.warnings) + tuple(findings))


def _note_body(parser: Parser, note) -> tuple:
    try:
        return parser.blocks(note.text)
    except BuildError as e:
        raise BuildError(e.message, note.origin) from None


def check(content_dir: Path, template_dir: Path | None, *, strict: bool = False, side_by_side: bool = True) -> Briefing:
    """Everything a build of all three formats does, rendered in memory and never written.

    A clean check therefore means the same build succeeds (barring the output folder itself).
    """
    briefing = prepare(content_dir, template_dir, FORMATS, strict=strict)
    render_all(briefing, FORMATS, side_by_side=side_by_side)
    return briefing


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


def render(briefing: Briefing, fmt: str) -> bytes:
    """One deliverable's bytes from the document its template produced."""
    return renderer(fmt)(briefing.documents[DELIVERABLES[fmt].template], briefing.theme)


def _timed(briefing: Briefing, fmt: str) -> tuple[bytes, float]:
    start = time.perf_counter()
    data = render(briefing, fmt)
    return data, time.perf_counter() - start


def render_all(briefing: Briefing, formats: tuple[str, ...], *, side_by_side: bool = True) -> list[tuple[bytes, float]]:
    """Each format's bytes and render seconds, in the order given.

    The renderers are independent and single-threaded, so where the system can fork, each runs in
    a copy of this process, side by side on the machine's cores; a copy that fails unexpectedly
    is run again here, so that its error and traceback are the real ones.
    """
    if not side_by_side or len(formats) < 2 or not hasattr(os, "fork"):
        return [_timed(briefing, fmt) for fmt in formats]
    children = []
    try:
        for fmt in formats:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the copy: render, send the result, and leave without the parent's clean-up
                os.close(read)
                try:
                    result = ("ok", _timed(briefing, fmt))
                except (BuildError, BuildErrors) as e:
                    result = ("error", e)
                except BaseException:  # noqa: BLE001 (rendered again in the parent, which reports it)
                    result = ("again", None)
                with os.fdopen(write, "wb") as pipe:
                    pickle.dump(result, pipe, protocol=pickle.HIGHEST_PROTOCOL)
                os._exit(0)
            os.close(write)
            children.append((pid, read))
        results = []
        while children:
            pid, read = children[0]
            with os.fdopen(read, "rb") as pipe:
                data = pipe.read()
            os.waitpid(pid, 0)
            children.pop(0)
            results.append(pickle.loads(data) if data else ("again", None))
    finally:
        for pid, read in children:  # interrupted: the copies still running are stopped
            with contextlib.suppress(OSError):
                os.close(read)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    out = []
    for fmt, (status, value) in zip(formats, results):
        if status == "error":
            raise value
        out.append(value if status == "ok" else _timed(briefing, fmt))
    return out


def build(content_dir: Path, template_dir: Path | None, out_dir: Path, formats: tuple[str, ...], *,
          strict: bool = False, on_built: Callable[[Built], None] | None = None,
          on_warning: Callable[[BuildError], None] | None = None, side_by_side: bool = True) -> list[Built]:
    """Render every requested format first, then write them all: a failure writes nothing."""
    briefing = prepare(content_dir, template_dir, formats, strict=strict)
    for warning in briefing.warnings:
        if on_warning:
            on_warning(warning)
    rendered = render_all(briefing, formats, side_by_side=side_by_side)
    built = [Built(Path(out_dir) / DELIVERABLES[fmt].filename, len(data), seconds)
             for fmt, (data, seconds) in zip(formats, rendered)]
    write_all({b.path: data for b, (data, _) in zip(built, rendered)})
    for b in built:
        if on_built:
            on_built(b)
    return built


def _source_files(folder: Path, out_dir: Path) -> list[Path]:
    """Every file under `folder` but those in the output folder, which lies inside it when a
    briefing's folder is its own content folder (`briefkit build` run among the .md files)."""
    out = Path(out_dir).resolve()
    return [p for p in Path(folder).rglob("*") if p.is_file() and out not in p.resolve().parents]


def _digest(folders: tuple[Path, ...], out_dir: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in sorted order."""
    h = hashlib.sha256()
    for folder in folders:
        for path in sorted(_source_files(folder, out_dir)):
            h.update(f"{folder.name}/{path.relative_to(folder).as_posix()}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def bundle(content_dir: Path, template_dir: Path | None, out_dir: Path, *, strict: bool = False,
           side_by_side: bool = True) -> Built:
    """`<out>/dist/<slug>.zip`: the three deliverables, SHA256SUMS and manifest.json."""
    start = time.perf_counter()
    briefing = prepare(content_dir, template_dir, FORMATS, strict=strict)
    meta = briefing.documents[MEMO_TEMPLATE].meta
    files = {f"{meta.slug}-{DELIVERABLES[fmt].filename}": data
             for fmt, (data, _) in zip(FORMATS, render_all(briefing, FORMATS, side_by_side=side_by_side))}
    when = build_time(meta)
    from importlib import metadata  # only the bundle names the renderers' versions

    versions = {name: metadata.version(name) for name in
                ("python-docx", "reportlab", "python-pptx", "Markdown", "Jinja2", "PyYAML", "Pillow")}
    manifest = {
        "title": meta.title, "slug": meta.slug, "date": when.isoformat(),
        "briefkit": __version__, "renderers": versions,
        "source_sha256": _digest((Path(content_dir), *briefing.theme.templates.folders), out_dir),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    files["SHA256SUMS"] = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files.items()).encode()
    data = stamped_zip({f"{meta.slug}/{name}": blob for name, blob in files.items()}, when)
    path = Path(out_dir) / "dist" / f"{meta.slug}.zip"
    write_all({path: data})
    return Built(path, len(data), time.perf_counter() - start)


def formats_affected(changed: list[Path], template_dir: Path | None) -> tuple[str, ...]:
    """Which deliverables a change touches: the deck template only the deck, and so on."""
    out: set[str] = set()
    for path in changed:
        if template_dir is not None and Path(template_dir) in path.parents:
            out |= {"deck.md.j2": {"pptx"}, "reference.pptx": {"pptx"}, "reference.docx": {"docx"}}.get(path.name, set(FORMATS))
        else:
            out |= set(FORMATS)
    return tuple(f for f in FORMATS if f in out)


def _snapshot(folders: tuple[Path, ...], out_dir: Path) -> dict[Path, tuple[float, int]]:
    snap = {}
    for folder in folders:
        for path in _source_files(folder, out_dir):
            if not path.name.startswith("."):
                try:
                    st = path.stat()
                except OSError:  # removed or renamed while we looked (editors save that way)
                    continue
                snap[path] = (st.st_mtime, st.st_size)
    return snap


def watch(content_dir: Path, template_dir: Path | None, out_dir: Path, *, on_built: Callable[[Built], None],
          on_error: Callable[[Exception], None], on_rebuilt: Callable[[list[Built], float], None] = lambda b, s: None,
          interval: float = 0.5, keep_going: Callable[[], bool] = lambda: True,
          on_watching: Callable[[], None] = lambda: None) -> None:
    """Build all three, then rebuild the deliverables a saved file affects, until `keep_going` says stop.

    `on_watching` is called once the files are being watched: a change saved after it is seen.
    The first build runs in this process, which so keeps the libraries, fonts and dictionaries
    loaded; rebuilds render each format in a copy of it. `on_rebuilt` gets each rebuild's
    deliverables and its seconds, from the change seen to the files written.
    """
    folders = (Path(content_dir),) + ((Path(template_dir),) if template_dir is not None else ())
    seen = _snapshot(folders, out_dir)
    on_watching()
    try:
        build(content_dir, template_dir, out_dir, FORMATS, on_built=on_built, side_by_side=False)
    except Exception as e:  # noqa: BLE001 (the content may be mid-edit: report it and watch)
        on_error(e)
    while keep_going():
        time.sleep(interval)
        now = _snapshot(folders, out_dir)
        changed = [p for p in set(now) | set(seen) if now.get(p) != seen.get(p)]
        seen = now
        if not changed:
            continue
        start = time.perf_counter()
        try:
            built = build(content_dir, template_dir, out_dir, formats_affected(changed, template_dir), on_built=on_built)
            on_rebuilt(built, time.perf_counter() - start)
        except Exception as e:  # noqa: BLE001 (whatever failed, report it and keep watching)
            on_error(e)
