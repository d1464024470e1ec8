"""Nothing written outside the output folder, never a mixed set of deliverables, one line per failure."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pypdf
import pytest
from pptx import Presentation

from briefkit import io as io_module
from briefkit.cli import main
from conftest import CONTENT, TEMPLATES, docx_endnotes, libreoffice_pdf, pdf_renderer_raising

NAMES = ("brief.pdf", "deck.pptx", "memo.docx")


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def build(capsys, out: Path, content: Path = CONTENT, *extra: str) -> tuple[int, str]:
    return run(capsys, "build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(out), "-q", *extra)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def set_key(content: Path, key: str, value: str) -> int:
    """Set a key of the briefing's front matter; return its line."""
    path = content / "briefing.md"
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if not line.startswith(f"{key}:")]
    lines.insert(1, f"{key}: {value}")
    path.write_text("\n".join(lines), encoding="utf-8")
    return 2


# names from content that become paths ------------------------------------------------


@pytest.mark.parametrize("slug", ["/tmp/anywhere", "../../../x", "a/b", "..", "a..b", ".hidden", "'C:\\x'",
                                  "'with space'", "x" * 300, "'-x'", '"tab\\tx"'])
def test_hostile_slugs_are_refused_with_their_line(capsys, content_copy, tmp_path, slug):
    set_key(content_copy, "slug", slug)
    out = tmp_path / "deep" / "er" / "out"
    code, err = run(capsys, "dist", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out))
    assert code == 1
    assert err.startswith(f"{content_copy}/briefing.md:2: error: 'slug' names the files of `dist`: "), err
    assert len(err.strip().split("\n")) == 1
    assert not (tmp_path / "deep").exists() and not Path("/tmp/anywhere.zip").exists()


def test_a_good_slug_names_every_zip_entry_inside_one_folder(capsys, content_copy, tmp_path):
    set_key(content_copy, "slug", "mexico_2025.v2")
    out = tmp_path / "out"
    code, _ = run(capsys, "dist", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out))
    assert code == 0
    with zipfile.ZipFile(out / "dist" / "mexico_2025.v2.zip") as z:
        names = z.namelist()
    assert names and all(n.startswith("mexico_2025.v2/") and ".." not in n.split("/") for n in names)


# output paths ----------------------------------------------------------------------------


def test_output_folder_that_cannot_be_used_is_one_line_naming_it(capsys, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    cases = {
        a_file: "it is a file, not a folder",
        a_file / "under": "a part of the path is a file",
        Path("/dev/null"): "it is a file, not a folder",
        Path("/proc/briefkit-out"): "",
        tmp_path / ("n" * 300): "the name is too long for the file system",
    }
    for out, why in cases.items():
        code, err = build(capsys, out, CONTENT, "--format", "docx")
        assert code == 1, out
        assert len(err.strip().split("\n")) == 1 and err.startswith("error: cannot ") and str(out) in err, err
        assert why in err
    assert a_file.read_text() == "keep me"


def test_a_folder_in_place_of_a_deliverable_is_reported(capsys, tmp_path):
    (tmp_path / "memo.docx").mkdir()
    code, err = build(capsys, tmp_path, CONTENT, "--format", "docx,pdf")
    assert code == 1 and f"cannot write '{tmp_path / 'memo.docx'}': a folder of that name is in the way" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memo.docx"]


# all or nothing ---------------------------------------------------------------------------


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "no space left on the disk"),
                                         (errno.EROFS, "the file system is read-only"),
                                         (errno.EACCES, "permission denied")])
def test_a_failed_write_leaves_every_previous_file_and_no_temporary(capsys, tmp_path, monkeypatch, code, words):
    out = tmp_path / "out"
    assert build(capsys, out)[0] == 0
    before = files(out)
    real_fsync, calls = os.fsync, []

    def fsync_fails_on_the_third_file(fd):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(code, os.strerror(code))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fails_on_the_third_file)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # new bytes, were they written
    exit_code, err = build(capsys, out)
    assert exit_code == 1 and err == f"error: cannot write '{out / 'deck.pptx'}': {words}\n"
    assert files(out) == before


def test_interrupt_while_writing_leaves_no_temporary(tmp_path, monkeypatch):
    (tmp_path / "memo.docx").write_bytes(b"old")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io_module.write_all({tmp_path / "memo.docx": b"new", tmp_path / "brief.pdf": b"new"})
    assert files(tmp_path) == {"memo.docx": b"old"}


def test_disk_full_on_a_real_small_file_system(capsys, content_copy, tmp_path):
    """A tmpfs that holds the old set and part of the new one: the build fails, the old set stays."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    out = tmp_path / "small"
    out.mkdir()
    reference = tmp_path / "reference"
    assert build(capsys, reference, content_copy)[0] == 0
    total = sum(len(b) for b in files(reference).values())
    size = total + total // 2 + 64 * 1024
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(out)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        assert build(capsys, out, content_copy)[0] == 0
        before = files(out)
        set_key(content_copy, "date", "2024-01-02")  # other bytes in every file
        code, err = build(capsys, out, content_copy)
        assert code == 1 and err.startswith(f"error: cannot write '{out}/") and err.endswith(": no space left on the disk\n")
        assert files(out) == before
    finally:
        subprocess.run(["umount", str(out)], check=True)


def test_a_read_only_file_system_is_one_line(capsys, tmp_path):
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    out = tmp_path / "ro"
    out.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(out)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        code, err = build(capsys, out, CONTENT, "--format", "pdf")
        assert code == 1 and err == f"error: cannot write '{out / 'brief.pdf'}': the file system is read-only\n"
    finally:
        subprocess.run(["umount", str(out)], check=True)


def test_zip_entry_names_stay_inside_the_archive():
    import datetime as dt

    from briefkit.stamp import stamped_zip

    when = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    for name in ("../x", "a/../../x", "/etc/x"):
        with pytest.raises(ValueError):
            stamped_zip({name: b""}, when)


_KILLED_AT_FIRST_RENAME = """
import os, signal, sys
from briefkit.cli import main
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
main(sys.argv[1:])
"""


def test_kill_before_the_renames_keeps_the_old_set_and_the_next_build_clears_its_temporaries(capsys, content_copy, tmp_path):
    out = tmp_path / "out"
    assert build(capsys, out, content_copy)[0] == 0
    before = files(out)
    (out / ".notes.txt.tmp").write_text("not ours")
    set_key(content_copy, "date", "2024-01-02")  # other bytes in every file
    argv = ["build", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out), "-q"]
    killed = subprocess.run([sys.executable, "-c", _KILLED_AT_FIRST_RENAME, *argv], capture_output=True)
    assert killed.returncode == -9
    left = files(out)
    assert {n: left[n] for n in NAMES} == before
    assert sorted(n for n in left if n.endswith(".tmp") and n != ".notes.txt.tmp") and len(left) == 7
    assert build(capsys, out, content_copy)[0] == 0
    after = files(out)
    assert sorted(after) == [".notes.txt.tmp", *NAMES]
    assert all(after[n] != before[n] for n in NAMES)


# check says what build will do --------------------------------------------------------------


def test_check_fails_wherever_build_fails(capsys, content_copy, tmp_path, monkeypatch):
    """check renders every format in memory: a renderer's error reaches it, and it writes nothing."""
    from briefkit.errors import BuildError

    pdf_renderer_raising(monkeypatch, BuildError("this content cannot be laid out"))
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, "check", "--content", str(content_copy), "--templates", str(TEMPLATES))
    assert code == 1 and err == "error: this content cannot be laid out\n"
    assert build(capsys, tmp_path / "out", content_copy)[0] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content"]


# watch keeps watching ----------------------------------------------------------------------


def test_watch_reports_a_front_matter_error_and_keeps_watching(tmp_path, content_copy):
    proc = subprocess.Popen([sys.executable, "-m", "briefkit", "watch", "--content", str(content_copy),
                             "--templates", str(TEMPLATES), "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = content_copy / "conclusion.md"
    good = path.read_text(encoding="utf-8")
    try:
        assert proc.stdout.readline().startswith("watching")
        time.sleep(1.0)
        path.write_text(good.replace("---\n", "---\nx: !!timestamp 2025-13-01\n", 1), encoding="utf-8")
        line = proc.stderr.readline()
        assert line.startswith(f"{path}:2: error: YAML tags such as '!!timestamp' are not allowed"), line
        path.write_text(good + "\nOne more line.\n", encoding="utf-8")
        built = [proc.stdout.readline() for _ in range(3)]
        assert all(b.startswith("built ") for b in built) and proc.poll() is None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err


# notes that cite notes ------------------------------------------------------------------------

WATER = """---
kind: pillar
order: 9
title: Water
short_title: Water
summary: Rivers cross borders.
recommendations:
  - Share data.{share}
---
# Analysis

Rivers.[^w1] Dams.{dams}

[^w1]: Smith, see also note [^w2] and note [^selee2025].
{more}
# Recommendations

Act.
"""


def test_a_note_may_cite_a_note_the_text_cites_and_every_format_shows_its_number(capsys, content_copy, tmp_path):
    (content_copy / "water.md").write_text(WATER.format(share="[^w1]", dams="[^w2]", more="[^w2]: Jones."), encoding="utf-8")
    out = tmp_path / "out"
    code, err = build(capsys, out, content_copy)
    assert code == 0 and err == ""
    with zipfile.ZipFile(out / "memo.docx") as z:
        endnotes = z.read("word/endnotes.xml").decode()
    assert "endnoteReference" not in endnotes  # Word allows none inside endnotes
    notes = docx_endnotes(out / "memo.docx")
    jones = next(n for n, text in notes.items() if text == "Jones.")
    selee = next(n for n, text in notes.items() if text.startswith("Selee, Andrew"))
    smith = next(n for n, text in notes.items() if text.startswith("Smith"))
    assert (smith, jones, selee) == (1, 17, 6)  # by first citation in the text: key recommendations come first
    assert f"NOTEREF _RefNote{jones} " in endnotes and f"NOTEREF _RefNote{selee} " in endnotes
    expected = "Smith, see also note xvii and note vi."
    assert notes[smith] == expected
    pdf = "".join(page.extract_text() for page in pypdf.PdfReader(out / "brief.pdf").pages)
    assert f"i {expected}" in " ".join(pdf.split())
    deck = " ".join(shape.text_frame.text for slide in Presentation(str(out / "deck.pptx")).slides
                    for shape in slide.shapes if shape.has_text_frame)
    assert expected in " ".join(deck.split()) and "Jones." in deck  # the note it cites comes along
    if not shutil.which("soffice"):
        pytest.skip("LibreOffice is not installed")
    opened = " ".join("".join(p.extract_text() for p in libreoffice_pdf(out / "memo.docx", tmp_path).pages).split())
    assert "Smith, see also note" in opened and "Jones." in opened


def test_a_note_cited_only_in_a_note_or_never_defined_is_reported_at_the_inner_citation(capsys, content_copy):
    water = content_copy / "water.md"
    water.write_text(WATER.format(share="", dams="", more="[^w2]: Jones."), encoding="utf-8")
    code, err = run(capsys, "check", "--content", str(content_copy), "--templates", str(TEMPLATES))
    assert code == 1 and err == (f"{water}:14: error: note [^w2] is cited only inside note [^w1]; cite it in the text "
                                 "too (endnotes are numbered by their citations in the text)\n")
    water.write_text(WATER.format(share="", dams="", more=""), encoding="utf-8")
    code, err = run(capsys, "check", "--content", str(content_copy), "--templates", str(TEMPLATES))
    assert code == 1 and err == f"{water}:14: error: note [^w2] is cited in note [^w1] but never defined\n"


# messages name the file and line -----------------------------------------------------------------


def _png(path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), "red").save(path)


def test_an_image_path_in_angle_brackets_may_hold_spaces(capsys, content_copy, tmp_path):
    _png(content_copy / "figures" / "my pic.png")
    (content_copy / "water.md").write_text(
        WATER.format(share="", dams="[^w2]\n\n![A red square](<figures/my pic.png>)", more="[^w2]: Jones."), encoding="utf-8")
    out = tmp_path / "out"
    assert build(capsys, out, content_copy)[0] == 0
    with zipfile.ZipFile(out / "memo.docx") as z:
        assert [n for n in z.namelist() if n.startswith("word/media/")]


def test_images_in_a_list_a_table_or_with_a_stray_bracket_are_reported_at_their_line(capsys, content_copy):
    _png(content_copy / "figures" / "p.png")
    water = content_copy / "water.md"
    analysis = ("\n\n- ![in a list](figures/p.png)\n\n| a |\n|---|\n| ![in a table](figures/p.png) |\n\n"
                "![alt]with bracket](figures/p.png)\n\nSee ![inline](figures/p.png) here.\n\n![fine \\] alt](figures/p.png)")
    water.write_text(WATER.format(share="", dams="[^w2]" + analysis, more="[^w2]: Jones."), encoding="utf-8")
    code, err = run(capsys, "check", "--content", str(content_copy), "--templates", str(TEMPLATES))
    alone = "must stand in a paragraph of its own (not in a list, a table or a line of text)"
    assert code == 1 and err.split("\n") == [
        f"{water}:14: error: image 'figures/p.png' {alone}",
        f"{water}:18: error: image 'figures/p.png' {alone}",
        f"{water}:20: error: image alt text holds an unmatched ']'; write it as '\\]'",
        f"{water}:22: error: image 'figures/p.png' {alone}",
        "",
    ]


def test_a_missing_briefing_file_names_the_folder_and_upper_case_md_is_read(capsys, content_copy):
    (content_copy / "trade.md").rename(content_copy / "trade.MD")
    code = main(["check", "--content", str(content_copy), "--templates", str(TEMPLATES)])
    assert code == 0 and ": 3 pillars," in capsys.readouterr().out
    (content_copy / "briefing.md").unlink()
    code, err = run(capsys, "check", "--content", str(content_copy), "--templates", str(TEMPLATES))
    assert code == 1 and err == f"{content_copy}: error: no file here has 'kind: briefing'; add one for the title and authors\n"
