"""Reproducible bytes, the dist bundle, watch, and the CLI's progress lines."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pypdf
import pytest

from briefkit.build import RENDERERS, formats_affected, renderer, watch
from briefkit.cli import main
from briefkit.stamp import stamped_zip
from conftest import CONTENT, TEMPLATES, pdf_renderer_raising, write


def _build(out: Path, content: Path = CONTENT, *extra: str) -> dict[str, bytes]:
    assert main(["build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(out), "-q", *extra]) == 0
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def _pdf_dates(data: bytes) -> set[str]:
    info = pypdf.PdfReader(io.BytesIO(data)).metadata
    return {info["/CreationDate"], info["/ModDate"]}


def test_two_builds_with_source_date_epoch_are_byte_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    first = _build(tmp_path / "a")
    time.sleep(1.1)  # a clock-dependent byte would now differ
    assert _build(tmp_path / "b") == first
    with zipfile.ZipFile(tmp_path / "a" / "memo.docx") as z:
        assert {i.date_time for i in z.infolist()} == {(2025, 1, 1, 0, 0, 0)}
        assert b"2025-01-01T00:00:00Z" in z.read("docProps/core.xml")
    assert _pdf_dates(first["brief.pdf"]) == {"D:20250101000000+00'00'"}


@pytest.fixture(params=["renderers loaded", "renderers not yet imported"])
def renderers(request, monkeypatch) -> str:
    """Either state a build can start in: a first build makes its copies before preparing the
    briefing (each imports its renderer meanwhile, then is sent its document), `watch` after."""
    for fmt, (module, _) in RENDERERS.items():
        if request.param == "renderers loaded":
            renderer(fmt)
        else:
            monkeypatch.delitem(sys.modules, module, raising=False)
    return request.param


def _children() -> set[int]:
    """This process's child processes (Linux)."""
    return {int(pid) for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()}


def test_formats_rendered_side_by_side_are_the_bytes_rendered_in_turn(tmp_path, monkeypatch, renderers):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    assert _build(tmp_path / "a") == _build(tmp_path / "b", CONTENT, "--debug")  # --debug renders in turn


def test_a_renderer_failing_in_its_own_process_is_reported_as_here(tmp_path, capsys, monkeypatch, renderers):
    pdf_renderer_raising(monkeypatch, ValueError("no pages"))
    out = tmp_path / "out"
    assert main(["build", "--content", str(CONTENT), "--templates", str(TEMPLATES), "--out", str(out), "-q"]) == 1
    assert capsys.readouterr().err == ("error: briefkit failed unexpectedly (ValueError: no pages); "
                                       "run with --debug for the traceback\n")
    assert not out.exists()


def test_a_mistake_found_while_rendering_side_by_side_is_its_one_line(tmp_path, capsys, renderers):
    from pptx import Presentation

    templates = tmp_path / "templates"
    templates.mkdir()
    Presentation().save(str(templates / "reference.pptx"))  # python-pptx's own master: 4:3
    out = tmp_path / "out"
    assert main(["build", "--templates", str(templates), "--content", str(CONTENT), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"{templates}/reference.pptx: error: the reference deck's slides are 10 × 7.5 in")
    assert not out.exists()


def test_copies_waiting_for_a_briefing_that_fails_are_stopped(tmp_path, content_copy, capsys, renderers):
    trade = content_copy / "trade.md"
    write(content_copy, "trade.md", trade.read_text(encoding="utf-8") + "\nA claim.[^nowhere]\n")
    before = _children()
    assert main(["build", "--content", str(content_copy), "--out", str(tmp_path / "out"), "-q"]) == 1
    assert "[^nowhere]" in capsys.readouterr().err
    assert _children() == before
    assert not (tmp_path / "out").exists()


def test_the_briefing_is_prepared_in_a_copy_while_the_renderers_are_not_yet_imported(tmp_path, monkeypatch, renderers):
    """Then this process never holds the content or the documents, only what it reports."""
    from briefkit import build as pipeline

    prepared_in = tmp_path / "pids"
    real = pipeline.prepare

    def prepare(*args, **kwargs):
        with prepared_in.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare", prepare)
    _build(tmp_path / "out")
    pids = [int(pid) for pid in prepared_in.read_text().split()]
    assert len(pids) == 1 and (pids[0] == os.getpid()) == (renderers == "renderers loaded")


def test_a_briefing_failing_unexpectedly_in_its_copy_is_reported_as_here(tmp_path, capsys, monkeypatch, renderers):
    from briefkit import build as pipeline

    def prepare(*args, **kwargs):
        raise ValueError("no briefing")

    monkeypatch.setattr(pipeline, "prepare", prepare)
    before = _children()
    out = tmp_path / "out"
    assert main(["build", "--content", str(CONTENT), "--templates", str(TEMPLATES), "--out", str(out), "-q"]) == 1
    assert capsys.readouterr().err == ("error: briefkit failed unexpectedly (ValueError: no briefing); "
                                       "run with --debug for the traceback\n")
    assert _children() == before
    assert not out.exists()


def test_the_briefing_date_fixes_the_bytes_by_default(tmp_path, content_copy, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    text = (content_copy / "briefing.md").read_text(encoding="utf-8").replace("language: en-US", "language: en-US\ndate: 2025-04-30")
    write(content_copy, "briefing.md", text)
    first = _build(tmp_path / "a", content_copy)
    time.sleep(1.1)
    assert _build(tmp_path / "b", content_copy) == first
    assert _pdf_dates(first["brief.pdf"]) == {"D:20250430120000+00'00'"}


def test_dist_bundle_verifies(tmp_path, capsys):
    assert main(["dist", "--content", str(CONTENT), "--templates", str(TEMPLATES), "--out", str(tmp_path)]) == 0
    assert "built" in capsys.readouterr().out
    bundle = tmp_path / "dist" / "us-policy-towards-mexico.zip"
    with zipfile.ZipFile(bundle) as z:
        files = {Path(n).name: z.read(n) for n in z.namelist()}
    assert set(files) == {"us-policy-towards-mexico-memo.docx", "us-policy-towards-mexico-brief.pdf",
                          "us-policy-towards-mexico-deck.pptx", "manifest.json", "SHA256SUMS"}
    sums = dict(reversed(line.split("  ", 1)) for line in files["SHA256SUMS"].decode().splitlines())
    assert set(sums) == set(files) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256(files[name]).hexdigest() == digest
    manifest = json.loads(files["manifest.json"])
    assert manifest["title"] == "Analysis and Recommendations for U.S. Policy Towards Mexico"
    assert {"python-docx", "reportlab", "python-pptx"} <= set(manifest["renderers"])
    assert len(manifest["source_sha256"]) == 64 and manifest["briefkit"]


def _zipfile_bytes(entries: dict[str, bytes], stamp: tuple) -> bytes:
    """What zipfile itself writes for the entries, as stamped_zip asks of it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            dst.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize("when", [dt.datetime(2025, 3, 7, 13, 45, 59, tzinfo=dt.timezone.utc),
                                  dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)])
def test_stamped_zip_is_the_bytes_zipfile_writes(when):
    entries = {"[Content_Types].xml": b"<Types/>" * 50, "empty": b"", "word/m\u00e9mo.xml": "d\u00e9j\u00e0 vu".encode() * 999,
               "media/noise.bin": random.Random(7).randbytes(70_000), "dir/": b"", "a/b/c.txt": b"x"}
    stamp = max(when, dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)).timetuple()[:6]
    assert stamped_zip(entries, when) == _zipfile_bytes(entries, stamp)
    assert stamped_zip(entries, when) == _zipfile_bytes(entries, stamp)  # members compressed before


def test_stamped_zip_beyond_the_short_records_is_the_bytes_zipfile_writes(monkeypatch):
    import briefkit.stamp

    monkeypatch.setattr(briefkit.stamp, "_SHORT_ZIP_LIMIT", 1000)  # as if the members passed 2 GB
    entries = {"a.xml": b"<a/>" * 500, "b.xml": b"<b/>"}
    when = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    assert stamped_zip(entries, when) == _zipfile_bytes(entries, when.timetuple()[:6])


def test_stamped_zip_compresses_again_a_member_whose_bytes_changed():
    when = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    first, second = {"a.xml": b"<a>one</a>" * 20}, {"a.xml": b"<a>two</a>" * 20}
    stamped_zip(first, when)
    with zipfile.ZipFile(io.BytesIO(stamped_zip(second, when))) as z:
        assert z.testzip() is None and z.read("a.xml") == second["a.xml"]


def test_progress_lines_and_quiet(tmp_path, capsys):
    assert main(["build", "--content", str(CONTENT), "--templates", str(TEMPLATES), "--out", str(tmp_path), "--format", "docx,pptx"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ")[1] for line in lines] == [str(tmp_path / "memo.docx"), str(tmp_path / "deck.pptx")]
    assert all(line.endswith(" s)") and "KiB" in line for line in lines)
    assert main(["build", "--content", str(CONTENT), "--templates", str(TEMPLATES), "--out", str(tmp_path), "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_formats_affected_by_a_change():
    t = TEMPLATES
    assert formats_affected([t / "deck.md.j2"], t) == ("pptx",)
    assert formats_affected([t / "reference.docx"], t) == ("docx",)
    assert formats_affected([t / "theme.yaml"], t) == ("docx", "pdf", "pptx")
    assert formats_affected([CONTENT / "trade.md"], t) == ("docx", "pdf", "pptx")


def test_watch_rebuilds_what_a_saved_file_affects(tmp_path, content_copy):
    templates = tmp_path / "templates"
    import shutil

    shutil.copytree(TEMPLATES, templates)
    built, errors, rounds = [], [], []

    def keep_going() -> bool:
        rounds.append(1)
        return len(rounds) < 200 and len(built) < 4

    thread = threading.Thread(target=watch, args=(content_copy, templates, tmp_path / "out"),
                              kwargs=dict(on_built=built.append, on_error=errors.append, interval=0.05,
                                          keep_going=keep_going))
    thread.start()
    time.sleep(0.3)
    (templates / "deck.md.j2").write_text((templates / "deck.md.j2").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    thread.join(timeout=60)
    # all three when it starts, then only the deck for a change to the deck's template
    assert not errors and [b.path.name for b in built] == ["memo.docx", "brief.pdf", "deck.pptx", "deck.pptx"]


def test_watch_rebuilds_the_bytes_a_fresh_build_makes(tmp_path, content_copy, monkeypatch):
    """Rebuilds reuse what the builds before laid out (the brief's paragraphs): after a sentence
    added, a paragraph turned into a quote (the same words in another style) and the body font
    file changed (the same styles), each rebuild writes the bytes a fresh build of the same files makes."""
    import shutil

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    templates, out = tmp_path / "templates", tmp_path / "out"
    shutil.copytree(TEMPLATES, templates)
    conclusion, theme = content_copy / "conclusion.md", templates / "theme.yaml"

    def edit(path: Path, old: str, new: str) -> None:
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    edits = [lambda: edit(conclusion, "decades to come.", "decades to come. One more sentence."),
             lambda: edit(conclusion, "\nThe policies recommended", "\n> The policies recommended"),
             lambda: edit(theme, "serif_regular: Caladea-Regular.ttf", "serif_regular: Carlito-Regular.ttf")]
    built, errors, stages, rounds = [], [], [], []

    def keep_going() -> bool:
        rounds.append(1)
        if len(built) == 3 * (len(stages) + 1):  # a build is written: keep its sources and outputs, then edit
            stage = tmp_path / f"stage{len(stages)}"
            for folder in (content_copy, templates, out):
                shutil.copytree(folder, stage / folder.name)
            stages.append(stage)
            if len(stages) <= len(edits):
                edits[len(stages) - 1]()
        return len(stages) <= len(edits) and not errors and len(rounds) < 1200

    watch(content_copy, templates, out, on_built=built.append, on_error=errors.append, interval=0.05,
          keep_going=keep_going)
    assert not errors and len(stages) == len(edits) + 1
    for stage in stages:
        fresh = _build(stage / "fresh", stage / "content", "--templates", str(stage / "templates"))
        assert {p.name: p.read_bytes() for p in (stage / "out").iterdir()} == fresh, stage.name


def test_watch_command_prints_what_it_rebuilt(tmp_path, content_copy):
    proc = subprocess.Popen([sys.executable, "-m", "briefkit", "watch", "--content", str(content_copy),
                             "--templates", str(TEMPLATES), "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("watching")
        for round in ("start", "rebuild"):  # the build it starts with, then the one after a saved change
            lines = [proc.stdout.readline() for _ in range(3)]
            assert [line.split(" ")[1].rsplit("/", 1)[-1] for line in lines] == ["memo.docx", "brief.pdf", "deck.pptx"]
            if round == "start":
                path = content_copy / "conclusion.md"
                path.write_text(path.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
        assert re.fullmatch(r"rebuilt memo\.docx, brief\.pdf, deck\.pptx in \d+\.\d\d s\n", proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_watch_ignores_its_own_output_inside_the_content_folder(content_copy):
    """Run among the content files (`briefkit watch` in a folder of .md files), the build
    folder lies inside the watched one: writing the deliverables must not trigger a rebuild."""
    built, errors, rounds = [], [], []

    def keep_going() -> bool:
        rounds.append(1)
        if len(rounds) == 4:
            path = content_copy / "conclusion.md"
            path.write_text(path.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
        return len(rounds) < 60

    watch(content_copy, None, content_copy / "build", on_built=built.append, on_error=errors.append,
          interval=0.05, keep_going=keep_going)
    # the build it starts with and one rebuild, not a rebuild after every write of its own
    assert not errors and [b.path.name for b in built] == ["memo.docx", "brief.pdf", "deck.pptx"] * 2


def test_watch_keeps_a_deliverable_whose_document_did_not_change(tmp_path, content_copy):
    """A paragraph added at the end of a pillar changes the memo and the brief but not the deck's
    document: watch keeps the deck's file. A change to any other file (a comment in the theme),
    or the deck's file gone, has the deck rendered again."""
    import shutil

    templates, out = tmp_path / "templates", tmp_path / "out"
    shutil.copytree(TEMPLATES, templates)
    pillar = next(p for p in sorted(content_copy.glob("*.md")) if "\nkind: pillar\n" in p.read_text(encoding="utf-8"))

    def add_paragraph() -> None:
        pillar.write_text(pillar.read_text(encoding="utf-8").rstrip("\n") + "\n\nOne more paragraph.\n", encoding="utf-8")

    def comment_the_theme() -> None:
        theme = templates / "theme.yaml"
        theme.write_text(theme.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")

    def lose_the_deck() -> None:
        (out / "deck.pptx").unlink()
        add_paragraph()

    steps, rounds, errors, firsts, ticks = [add_paragraph, comment_the_theme, lose_the_deck], [], [], [], []
    collecting = []  # whether Python's collector could run during each rebuild (it runs between them)

    def first_build(_built) -> None:  # the build watch starts with, then the first edit
        firsts.append(1)
        if len(firsts) == 3:
            steps[0]()

    def rebuilt(built, _seconds) -> None:  # each rebuild, then the next edit
        rounds.append({b.path.name: b.rendered for b in built})
        collecting.append(gc.isenabled())
        if len(rounds) < len(steps):
            steps[len(rounds)]()

    def keep_going() -> bool:
        ticks.append(1)
        return len(rounds) < len(steps) and not errors and len(ticks) < 1200

    watch(content_copy, templates, out, on_built=first_build, on_error=errors.append, on_rebuilt=rebuilt,
          interval=0.05, keep_going=keep_going)
    assert not errors
    assert rounds == [{"memo.docx": True, "brief.pdf": True, "deck.pptx": False},
                      {"memo.docx": True, "brief.pdf": True, "deck.pptx": True},
                      {"memo.docx": True, "brief.pdf": True, "deck.pptx": True}]
    assert collecting == [False] * 3 and gc.isenabled()


def test_a_copy_sends_a_large_result_without_waiting_to_be_asked():
    """A result larger than a pipe holds is read as it comes: the copy is done and gone while this
    process is still busy (`watch` renders the brief meanwhile), not kept until it asks."""
    import time

    from briefkit.build import _Copy

    sent = b"\x01" * (4 << 20)
    copy = _Copy(lambda: sent, [])
    try:
        deadline = time.monotonic() + 20
        while os.waitid(os.P_PID, copy.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            assert time.monotonic() < deadline, "the copy is still waiting to be asked for its result"
            time.sleep(0.01)
        assert copy.result() == ("ok", sent)
    finally:
        copy.stop()
