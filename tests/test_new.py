"""`briefkit new` and how `briefkit` finds a briefing, run as a user would: the `briefkit`
command in a temporary folder outside the repository, deliverables read back independently."""

from __future__ import annotations

import shutil
import zipfile

import pypdf
import pytest
from pptx import Presentation

from briefkit.templates import DEFAULTS
from conftest import CONTENT, docx_endnotes, docx_paragraphs
from test_any_shape import blank_slides, briefkit, empty_headings, run_here, slides

needs_make = pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
DELIVERABLES = ("memo.docx", "brief.pdf", "deck.pptx")


@needs_make
def test_a_new_briefing_builds_three_deliverables_with_make(tmp_path):
    made = briefkit(tmp_path, "new", "my-brief")
    assert made.returncode == 0 and not made.stderr, made.stderr
    assert "cd my-brief && make" in made.stdout
    folder = tmp_path / "my-brief"
    assert (folder / "README.md").is_file() and (folder / ".gitignore").read_text() == "build/\n"
    assert not (folder / "templates").exists()

    done = briefkit(folder, "check")
    assert done.returncode == 0 and not done.stderr, done.stderr  # the example is clean: no warning
    made = run_here(folder, "make")
    assert made.returncode == 0, made.stderr
    out = folder / "build"
    assert sorted(p.name for p in out.iterdir()) == sorted(DELIVERABLES)

    memo = [t for s, t in docx_paragraphs(out / "memo.docx") if s.startswith("Heading")]
    assert memo[:3] == ["Executive Summary", "Strategic Context", "Pillar I: Measure What Matters"]
    assert {"Introduction", "Monitoring Air Quality", "Cleaner Transport", "Policy Recommendations", "Conclusion"} <= set(memo)
    assert not empty_headings(out / "memo.docx")
    cover = [t for _, t in docx_paragraphs(out / "memo.docx")][:8]
    assert "Autumn 2026 · 1 October 2026" in cover
    assert list(docx_endnotes(out / "memo.docx").values())[0].startswith("Author Name, Title of the Report")
    pdf = pypdf.PdfReader(str(out / "brief.pdf"))
    assert pdf.metadata.title == "Cleaner Air for Example City"
    assert pdf.metadata.creation_date.year == 2026 and pdf.metadata.creation_date.month == 10  # date_iso
    deck = slides(out / "deck.pptx", footer="Cleaner Air")
    titles = [t for t, _ in deck]
    assert {"Agenda", "Strategic Context", "Monitoring: key figures", "Transport: key recommendations", "Conclusion"} <= set(titles)
    assert titles[-1].startswith("Endnotes") and not blank_slides(out / "deck.pptx", footer="Cleaner Air")
    with zipfile.ZipFile(out / "deck.pptx") as z:
        assert {i.date_time[:3] for i in z.infolist()} == {(2026, 10, 1)}


def test_new_with_templates_copies_them_to_customise(tmp_path):
    made = briefkit(tmp_path, "new", "custom", "--templates")
    assert made.returncode == 0, made.stderr
    templates = tmp_path / "custom" / "templates"
    assert sorted(p.name for p in templates.iterdir()) == ["deck.md.j2", "memo.md.j2", "theme.yaml"]
    assert (templates / "memo.md.j2").read_bytes() == (DEFAULTS / "memo.md.j2").read_bytes()
    memo = templates / "memo.md.j2"
    memo.write_text(memo.read_text(encoding="utf-8").replace(
        "# Executive Summary", "# Summary for Ministers ({{ briefing.extra.series }}, "
                               "{{ pillars[0].meta.extra.lead_author }})"), encoding="utf-8")
    built = briefkit(tmp_path / "custom", "build", "--format", "docx")
    assert built.returncode == 0, built.stderr
    assert ("Heading1", "Summary for Ministers (Example briefs, Second Author)") in \
        docx_paragraphs(tmp_path / "custom" / "build" / "memo.docx")


def test_new_never_writes_into_a_folder_that_holds_something(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    made = briefkit(tmp_path, "new", "taken")
    assert made.returncode == 2
    assert made.stderr == "briefkit new: error: 'taken' already exists and is not empty; name a new folder " \
                          "(nothing was changed)\n"
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert briefkit(tmp_path, "new", "empty").returncode == 0 and (tmp_path / "empty" / "Makefile").is_file()
    (tmp_path / "a-file").write_text("")
    made = briefkit(tmp_path, "new", "a-file/brief")
    assert made.returncode == 1 and made.stderr.startswith("briefkit new: error: cannot write 'a-file/brief")
    assert len(made.stderr.splitlines()) == 1, made.stderr
    made = briefkit(tmp_path, "new", "a-file")
    assert made.returncode == 2 and made.stderr == "briefkit new: error: 'a-file' is a file; name a new folder " \
                                                   "(nothing was changed)\n"


def test_printing_a_section_no_file_has_is_an_error_at_the_template_line(tmp_path):
    assert briefkit(tmp_path, "new", "b", "--templates").returncode == 0
    memo = tmp_path / "b" / "templates" / "memo.md.j2"
    lines = memo.read_text(encoding="utf-8").count("\n")
    memo.write_text(memo.read_text(encoding="utf-8") + "# {{ sections.annex.meta.title }}\n", encoding="utf-8")
    checked = briefkit(tmp_path / "b", "check")
    assert checked.returncode == 1 and checked.stderr == (
        f"templates/memo.md.j2:{lines + 1}: error: template error: no section has 'role: annex'; "
        "test for it with {% if sections.annex %}\n")


def test_a_folder_of_content_files_builds_where_it_is(tmp_path):
    """Run among the .md files themselves: the current folder is the content folder, and the
    output folder inside it is neither read as content nor watched."""
    for path in CONTENT.iterdir():
        shutil.copy(path, tmp_path / path.name)
    built = briefkit(tmp_path, "build", "--format", "pptx")
    assert built.returncode == 0 and not built.stderr, built.stderr
    assert Presentation(str(tmp_path / "build" / "deck.pptx")).slides[0].shapes[0].text_frame.text.startswith("Analysis")
    again = briefkit(tmp_path, "dist", SOURCE_DATE_EPOCH="1700000000")
    assert again.returncode == 0, again.stderr
    with zipfile.ZipFile(tmp_path / "build" / "dist" / "us-policy-towards-mexico.zip") as z:
        first = z.read("us-policy-towards-mexico/manifest.json")
    assert briefkit(tmp_path, "dist", SOURCE_DATE_EPOCH="1700000000").returncode == 0  # the first zip is not part of the sources
    with zipfile.ZipFile(tmp_path / "build" / "dist" / "us-policy-towards-mexico.zip") as z:
        assert z.read("us-policy-towards-mexico/manifest.json") == first


def test_content_lookup_prefers_a_content_folder_and_names_the_fix_when_there_is_none(tmp_path):
    shutil.copytree(CONTENT, tmp_path / "content")
    (tmp_path / "stray.md").write_text("not a briefing\n")
    assert briefkit(tmp_path, "check").returncode == 0
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    found = briefkit(nothing, "build")
    assert found.returncode == 2 and found.stderr == (
        "briefkit build: error: no briefing here: neither ./content nor this folder holds a file with "
        "'kind: briefing'; run this in a briefing's folder, name one with --content DIR, or start one with "
        "`briefkit new DIR`\n")
    (nothing / "content").mkdir()
    found = briefkit(nothing, "check")
    assert found.returncode == 1 and found.stderr.startswith("content: error: the folder holds no .md files; ")


def test_a_content_folder_without_a_pillar_names_the_fix(tmp_path):
    (tmp_path / "content").mkdir()
    shutil.copy(CONTENT / "briefing.md", tmp_path / "content")
    found = briefkit(tmp_path, "check")
    assert found.returncode == 1 and found.stderr == (
        "content: error: no file here has 'kind: pillar'; add one file per policy pillar "
        "(`briefkit new DIR` writes an example)\n")
