"""The pipeline: load, assemble, parse once per template, number notes, render, write."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import json
import os
import pickle
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from briefkit import FORMATS, __version__
from briefkit.errors import BuildError, BuildErrors
from briefkit.glyphs import missing_glyphs
from briefkit.io import write_all
from briefkit.loading import Content, load_content
from briefkit.model import Document, Meta
from briefkit.notes import number_notes
from briefkit.stamp import build_time, stamped_zip
from briefkit.templates import Templates
from briefkit.theme import Theme, load_theme

if TYPE_CHECKING:
    from briefkit.parsing import Parser

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
class Summary:
    """What the commands report of a prepared briefing, without its content and documents."""

    meta: Meta
    template_folders: tuple[Path, ...]
    pillars: int
    notes: int
    warnings: tuple[BuildError, ...]


@dataclass(frozen=True, slots=True)
class Briefing:
    """Everything renderers need: one numbered Document per template, and the theme."""

    documents: dict[str, Document]  # by template name
    theme: Theme
    content: Content
    warnings: tuple[BuildError, ...]

    def summary(self) -> Summary:
        c = self.content
        return Summary(self.documents[MEMO_TEMPLATE].meta, self.theme.templates.folders, len(c.pillars), len(c.notes),
                       self.warnings)


@dataclass(frozen=True, slots=True)
class Built:
    path: Path
    size: int
    seconds: float
    rendered: bool = True  # False: the file was left as it was, its document and theme unchanged


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
    # jinja2 and Markdown are loaded only by the process that prepares (a build's copy, see prepare_and_render)
    from briefkit.assembly import Uses, assemble
    from briefkit.parsing import Parser

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


def check(content_dir: Path, template_dir: Path | None, *, strict: bool = False, side_by_side: bool = True) -> Summary:
    """Everything a build of all three formats does, rendered in memory and never written.

    A clean check therefore means the same build succeeds (barring the output folder itself).
    """
    summary, _ = prepare_and_render(content_dir, template_dir, FORMATS, strict=strict, side_by_side=side_by_side)
    return summary


# Whether a format's (document, theme) need no render: their deliverable is as last written.
Unchanged = Callable[[str, Document, Theme], bool]

# The slowest render first. In `watch` it runs in this process, which so keeps what its renderer
# learns from one rebuild to the next (the brief's paragraph layouts); the others run in copies.
SLOWEST_FIRST = ("pdf", "pptx", "docx")

# each format's renderer, imported only when that format is built
RENDERERS = {"docx": ("briefkit.render.memo_docx", "render_memo"), "pdf": ("briefkit.render.brief_pdf", "render_brief"),
             "pptx": ("briefkit.render.deck_pptx", "render_deck")}


def renderer(fmt: str) -> Callable[[Document, Theme], bytes]:
    """The render function for a format."""
    if fmt not in RENDERERS:
        raise BuildError(f"unknown format '{fmt}'")
    module, name = RENDERERS[fmt]
    return getattr(importlib.import_module(module), name)


def render(briefing: Briefing, fmt: str) -> bytes:
    """One deliverable's bytes from the document its template produced."""
    return renderer(fmt)(briefing.documents[DELIVERABLES[fmt].template], briefing.theme)


def _timed(briefing: Briefing, fmt: str) -> tuple[bytes, float]:
    start = time.perf_counter()
    data = render(briefing, fmt)
    return data, time.perf_counter() - start


def prepare_and_render(content_dir: Path, template_dir: Path | None, formats: tuple[str, ...], *, strict: bool = False,
                       side_by_side: bool = True, unchanged: Unchanged | None = None
                       ) -> tuple[Summary, list[tuple[bytes, float] | None]]:
    """The prepared briefing's summary, and each format's bytes and render seconds, in the order
    given; None for a format `unchanged` says needs no render (asked where the briefing is prepared
    in this process: `watch`).

    The renderers are independent and single-threaded, so where the system can fork, each runs in
    a copy of this process, side by side on the machine's cores. While this process has yet to
    import a renderer, the copies are made first: each imports its renderer (and whatever its
    `warm_up` loads from the theme) while one more copy prepares the briefing, sends each its
    document and sends this process the summary, so that this process never holds the content
    or the documents. Once the renderers are loaded (`watch`), this process prepares the briefing
    and renders the slowest format, and the others render in copies made after (as many as there
    are other cores), which share the briefing as it is. A copy that fails unexpectedly is run
    again here, so that its error and traceback are the real ones.
    """
    def prepare_it() -> Briefing:
        return prepare(content_dir, template_dir, formats, strict=strict)

    def to_render(briefing: Briefing) -> list[str]:
        return [fmt for fmt in formats if unchanged is None or not unchanged(
            fmt, briefing.documents[DELIVERABLES[fmt].template], briefing.theme)]

    def in_turn() -> tuple[Summary, list[tuple[bytes, float] | None]]:
        briefing = prepare_it()
        todo = to_render(briefing)
        return briefing.summary(), [_timed(briefing, fmt) if fmt in todo else None for fmt in formats]

    loaded = all(RENDERERS[fmt][0] in sys.modules for fmt in formats if fmt in RENDERERS)
    if not side_by_side or not hasattr(os, "fork") or (loaded and len(formats) < 2):
        return in_turn()
    briefing: Briefing | None = None
    copies: list[_Copy] = []
    try:
        if loaded:
            briefing = prepare_it()
            here, *others = sorted(to_render(briefing), key=SLOWEST_FIRST.index) or [None]
            lanes = min(len(others), max(1, (os.cpu_count() or 2) - 1))
            groups = [others[i::lanes] for i in range(lanes)]
            for group in groups:
                copies.append(_Copy(lambda group=group: [_timed(briefing, fmt) for fmt in group], copies))
            done = {here: _timed(briefing, here)} if here else {}
            for group, copy in zip(groups, copies):
                status, value = copy.result()
                if status == "error":
                    raise value
                done |= dict(zip(group, value)) if status == "ok" else {fmt: _timed(briefing, fmt) for fmt in group}
            return briefing.summary(), [done.get(fmt) for fmt in formats]
        else:
            for fmt in formats:
                copies.append(_Copy.sent_its_document(fmt, template_dir, copies))
            inputs = [copy.take_input() for copy in copies]
            try:
                preparing = _Copy(lambda: _send_documents(prepare_it(), formats, inputs), copies)
            finally:  # the preparing copy has them: each copy's input ends when that copy is done
                for fd in inputs:
                    os.close(fd)
            copies.append(preparing)
            status, summary = preparing.result()
            if status == "error":
                raise summary
            if status == "again":  # prepared here for the real error, and rendered in turn if there is none
                for copy in copies:
                    copy.stop()
                return in_turn()
        results = [copy.result() for copy in copies[:len(formats)]]  # the renders (the preparing copy is done)
    finally:
        for copy in copies:  # interrupted, or the briefing failed: the copies still running are stopped
            copy.stop()
    out = []
    for fmt, (status, value) in zip(formats, results):
        if status == "error":
            raise value
        if status == "again":
            briefing = briefing or prepare_it()
        out.append(value if status == "ok" else _timed(briefing, fmt))
    return summary, out


def _send_documents(briefing: Briefing, formats: tuple[str, ...], inputs: list[int]) -> Summary:
    """Write each format's pickled (document, theme) to its copy's input, all at once (a pipe holds
    little, and each copy reads once its renderer is imported), and return the briefing's summary."""
    sent = {template: pickle.dumps((document, briefing.theme), protocol=pickle.HIGHEST_PROTOCOL)
            for template, document in briefing.documents.items()}

    def write(fd: int, data: bytes) -> None:
        with contextlib.suppress(OSError), os.fdopen(fd, "wb") as pipe:  # a copy gone is seen by its result
            pipe.write(data)
    senders = [threading.Thread(target=write, args=(fd, sent[DELIVERABLES[fmt].template]))
               for fmt, fd in zip(formats, inputs)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    return briefing.summary()


class _Copy:
    """A copy of this process that does one piece of work and sends back its result:
    ("ok", value), ("error", a BuildError or BuildErrors) or ("again", None) for anything else.

    `work` gets the read end of the copy's input pipe, when it has one (`with_input`)."""

    def __init__(self, work: Callable[..., object], others: list[_Copy], with_input: bool = False) -> None:
        read, write = os.pipe()
        input_read, self._input = os.pipe() if with_input else (None, None)
        gc.freeze()  # the copy's collections skip what it inherits, so they leave those pages shared, unwritten
        try:
            self.pid = os.fork()
        except OSError:
            gc.unfreeze()
            raise
        if self.pid == 0:  # the copy: work, send the result, and leave without the parent's clean-up
            try:
                for other in others:  # their pipes are none of this copy's
                    other.close()
                os.close(read)
                try:
                    if with_input:
                        os.close(self._input)
                        result = ("ok", work(input_read))
                    else:
                        result = ("ok", work())
                except (BuildError, BuildErrors) as e:
                    result = ("error", e)
                except BaseException:  # noqa: BLE001 (rendered again in the parent, which reports it)
                    result = ("again", None)
                try:
                    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:  # noqa: BLE001 (a result that does not pickle: done again in the parent)
                    data = pickle.dumps(("again", None))
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
            finally:  # whatever fails here, the copy never returns into its caller's code
                os._exit(0)
        gc.unfreeze()
        os.close(write)
        if with_input:
            os.close(input_read)
        self._read: int | None = read
        self._sent: list[bytes] = []
        # read as it comes: a result larger than the pipe holds would keep the copy waiting for
        # this process to ask, and its exit (some milliseconds) would then be waited for too
        self._reader = threading.Thread(target=self._receive, daemon=True)
        self._reader.start()

    def _receive(self) -> None:
        read, self._read = self._read, None  # this thread's now: copies made later leave it alone
        with os.fdopen(read, "rb") as pipe:
            self._sent.append(pipe.read())

    @classmethod
    def sent_its_document(cls, fmt: str, template_dir: Path | None, others: list[_Copy]) -> _Copy:
        """A copy that imports the format's renderer, then renders the (document, theme) it is sent."""
        def work(input_read: int) -> tuple[bytes, float]:
            render_format = renderer(fmt)
            if warm_up := getattr(sys.modules.get(RENDERERS[fmt][0]), "warm_up", None):
                with contextlib.suppress(Exception):  # a theme that fails is reported by the preparing process
                    warm_up(load_theme(Templates.of(template_dir)))
            with os.fdopen(input_read, "rb") as pipe:
                document, theme = pickle.load(pipe)
            start = time.perf_counter()
            data = render_format(document, theme)
            return data, time.perf_counter() - start

        return cls(work, others, with_input=True)

    def take_input(self) -> int:
        """The write end of the copy's input pipe, for the caller to close."""
        fd, self._input = self._input, None
        return fd

    def result(self) -> tuple[str, object]:
        self._reader.join()
        os.waitpid(self.pid, 0)
        self.pid = 0
        data = b"".join(self._sent)
        return pickle.loads(data) if data else ("again", None)

    def close(self) -> None:
        """The ends of the copy's pipes this process holds closed (in a copy made after it)."""
        for fd in (self._read, self._input):
            if fd is not None:
                os.close(fd)
        self._read = self._input = None

    def stop(self) -> None:
        if self.pid:
            if self._input is not None:
                os.close(self._input)
                self._input = None
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0
            self._reader.join()  # the copy gone, its pipe has ended


def build(content_dir: Path, template_dir: Path | None, out_dir: Path, formats: tuple[str, ...], *,
          strict: bool = False, on_built: Callable[[Built], None] | None = None,
          on_warning: Callable[[BuildError], None] | None = None, side_by_side: bool = True,
          unchanged: Unchanged | None = None) -> list[Built]:
    """Render every requested format first, then write them all: a failure writes nothing.
    A format `unchanged` says needs no render keeps its file."""
    summary, rendered = prepare_and_render(content_dir, template_dir, formats, strict=strict, side_by_side=side_by_side,
                                           unchanged=unchanged)
    for warning in summary.warnings:
        if on_warning:
            on_warning(warning)
    paths = [Path(out_dir) / DELIVERABLES[fmt].filename for fmt in formats]
    built = [Built(path, len(result[0]), result[1]) if result else Built(path, path.stat().st_size, 0.0, rendered=False)
             for path, result in zip(paths, rendered)]
    write_all({path: result[0] for path, result in zip(paths, rendered) if result})
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
    summary, rendered = prepare_and_render(content_dir, template_dir, FORMATS, strict=strict, side_by_side=side_by_side)
    meta = summary.meta
    files = {f"{meta.slug}-{DELIVERABLES[fmt].filename}": data for fmt, (data, _) in zip(FORMATS, rendered)}
    when = build_time(meta)
    from importlib import metadata  # only the bundle names the renderers' versions

    versions = {name: metadata.version(name) for name in
                ("python-docx", "reportlab", "python-pptx", "Markdown", "Jinja2", "PyYAML", "Pillow")}
    manifest = {
        "title": meta.title, "slug": meta.slug, "date": when.isoformat(),
        "briefkit": __version__, "renderers": versions,
        "source_sha256": _digest((Path(content_dir), *summary.template_folders), out_dir),
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


class _Written:
    """What `watch` last wrote of each format: the document and theme it was rendered from, and
    the file's size and time. After a change to Markdown files alone, a format whose document
    and theme are as they were and whose file is untouched is not rendered again (a changed
    image or template can change a deliverable while its document stays the same)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.markdown_only = False  # whether the change being built touched Markdown files alone
        self.given: dict[str, tuple[Document, Theme]] = {}  # to the build under way
        self.written: dict[str, tuple[Document, Theme, tuple[int, int] | None]] = {}

    def __call__(self, fmt: str, document: Document, theme: Theme) -> bool:
        self.given[fmt] = (document, theme)
        last = self.written.get(fmt)
        return (self.markdown_only and last is not None and last[:2] == (document, theme)
                and last[2] == _file_state(self.out_dir / DELIVERABLES[fmt].filename))

    def wrote(self, built: list[Built]) -> None:
        for fmt, deliverable in DELIVERABLES.items():
            if any(b.rendered and b.path.name == deliverable.filename for b in built):
                self.written[fmt] = (*self.given[fmt], _file_state(self.out_dir / deliverable.filename))


def _file_state(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def watch(content_dir: Path, template_dir: Path | None, out_dir: Path, *, on_built: Callable[[Built], None],
          on_error: Callable[[Exception], None], on_rebuilt: Callable[[list[Built], float], None] = lambda b, s: None,
          interval: float = 0.5, keep_going: Callable[[], bool] = lambda: True,
          on_watching: Callable[[], None] = lambda: None) -> None:
    """Build all three, then rebuild the deliverables a saved file affects, until `keep_going` says stop.

    `on_watching` is called once the files are being watched: a change saved after it is seen.
    The first build runs in this process, which so keeps the libraries, fonts and dictionaries
    loaded. A rebuild renders the brief here too, which keeps its paragraphs' layouts from one
    rebuild to the next (only what changed is laid out anew), and the others in copies of this
    process; after edits to Markdown files alone, a deliverable whose document is as it was
    keeps its file (see _Written). `on_rebuilt` gets each rebuild's deliverables and its seconds,
    from the change seen to the files written.
    """
    folders = (Path(content_dir),) + ((Path(template_dir),) if template_dir is not None else ())
    seen = _snapshot(folders, out_dir)
    written = _Written(out_dir)
    on_watching()
    with importlib.import_module(RENDERERS["pdf"][0]).layouts_kept():  # the brief renders in this process
        try:
            written.wrote(build(content_dir, template_dir, out_dir, FORMATS, on_built=on_built, side_by_side=False,
                                unchanged=written))
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
            written.markdown_only = all(p.suffix.lower() == ".md" and Path(content_dir) in p.parents for p in changed)
            gc.disable()  # a collection of this long-lived process mid-rebuild would add to the wait
            try:
                built = build(content_dir, template_dir, out_dir, formats_affected(changed, template_dir), on_built=on_built,
                              unchanged=written)
                written.wrote(built)
                on_rebuilt(built, time.perf_counter() - start)
            except Exception as e:  # noqa: BLE001 (whatever failed, report it and keep watching)
                on_error(e)
            finally:  # collected while waiting for the next save instead
                gc.enable()
                gc.collect()
