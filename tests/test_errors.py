"""Bad input: one clear line per finding, the right exit code, no traceback, nothing lost."""

from __future__ import annotations

import os
import re
import shutil
import zipfile

import pypdf
import pytest
from pptx import Presentation

from briefkit.errors import BuildErrors
from briefkit.templates import Templates
from briefkit import build as build_module
from briefkit.cli import main
from conftest import CONTENT, TEMPLATES, docx_paragraphs, write

LINE = re.compile(r"^\S+:\d+: (error|warning): .+$")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def build(capsys, content, out, *extra: str) -> tuple[int, str]:
    code, _, err = run(capsys, "build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(out), "-q", *extra)
    return code, err


def check(capsys, content, *extra: str) -> tuple[int, str]:
    code, _, err = run(capsys, "check", "--content", str(content), "--templates", str(TEMPLATES), *extra)
    return code, err


PILLAR = """---
kind: pillar
order: 9
title: Water
short_title: Water
summary: Rivers cross borders.
recommendations:
  - Share data.
---
# Analysis

{analysis}

# Recommendations

Act.
"""


# front matter ------------------------------------------------------------------


def test_malformed_yaml_reports_file_and_line(capsys, content_copy):
    write(content_copy, "water.md", "---\nkind: pillar\ntitle: [unclosed\norder: 1\n---\nText\n")
    code, err = check(capsys, content_copy)
    assert code == 1
    assert re.search(r"content/water\.md:[34]: error: invalid YAML front matter", err)


def test_missing_front_matter(capsys, content_copy):
    write(content_copy, "water.md", "Just text.\n")
    code, err = check(capsys, content_copy)
    assert code == 1 and "content/water.md:1: error: missing YAML front matter" in err


def test_missing_unknown_and_mistyped_keys(capsys, content_copy):
    write(content_copy, "water.md", "---\nkind: pillar\ntitle: Water\norder: first\ncolour: blue\nsumary: S\n---\n"
                                    "# Analysis\nA\n# Recommendations\nB\n")
    code, err = check(capsys, content_copy)
    lines = err.strip().splitlines()
    assert code == 1 and all(LINE.match(line) for line in lines), err
    assert any(line.endswith("content/water.md:4: error: 'order' must be a whole number such as 2 (at most 9 digits), not 'first'") for line in lines)
    assert any(line.endswith("water.md:5: error: unknown key 'colour' for a pillar; allowed: kind, title, short_title, "
                             "order, summary_title, summary, recommendations, figures, deck, extra; put keys of your own "
                             "under 'extra:'") for line in lines), err
    assert any(line.endswith("water.md:6: error: unknown key 'sumary' for a pillar; did you mean 'summary'?")
               for line in lines), err


def test_list_key_of_wrong_type(capsys, content_copy):
    text = (content_copy / "trade.md").read_text(encoding="utf-8").replace("recommendations:\n", "recommendations: {a: 1}\nx_old:\n", 1)
    write(content_copy, "trade.md", text)
    code, err = check(capsys, content_copy)
    assert code == 1 and "trade.md:" in err and "'recommendations' must be a list of text items" in err


def test_bad_endnote_style_and_date(capsys, content_copy):
    text = (content_copy / "briefing.md").read_text(encoding="utf-8")
    text = text.replace("endnote_style: lower-roman", "endnote_style: greek\ndate: Spring 2025\ndate_iso: spring")
    write(content_copy, "briefing.md", text)
    code, err = check(capsys, content_copy)
    assert "'endnote_style' must be one of lower-roman, arabic; got 'greek'" in err
    assert "'date_iso' must be a date written YYYY-MM-DD, not 'spring'" in err and "'date'" not in err and code == 1


# notes -------------------------------------------------------------------------


def test_note_cited_but_never_defined(capsys, content_copy):
    write(content_copy, "water.md", PILLAR.format(analysis="Rivers.[^nowhere]"))
    code, err = check(capsys, content_copy)
    assert code == 1 and "content/water.md:12: error: note [^nowhere] is cited but never defined" in err


def test_note_defined_twice(capsys, content_copy):
    write(content_copy, "water.md", PILLAR.format(analysis="Rivers.[^baker2024]\n\n[^baker2024]: Again."))
    code, err = check(capsys, content_copy)
    assert code == 1
    assert re.search(r"content/water\.md:14: error: note \[\^baker2024\] is defined twice \(first at \S*content/trade\.md:\d+\)", err)


def test_note_never_cited_warns_and_fails_with_strict(capsys, content_copy, tmp_path):
    write(content_copy, "water.md", PILLAR.format(analysis="Rivers.\n\n[^lonely]: Never cited."))
    code, err = check(capsys, content_copy)
    assert code == 0 and "content/water.md:14: warning: note [^lonely] is defined but never cited" in err
    code, err = check(capsys, content_copy, "--strict")
    assert code == 1 and "content/water.md:14: error: note [^lonely] is defined but never cited" in err
    code, _ = build(capsys, content_copy, tmp_path / "out", "--strict")
    assert code == 1 and not (tmp_path / "out").exists()


# folders and templates ---------------------------------------------------------


def test_missing_content_folder_is_a_usage_error_and_an_empty_one_names_it(capsys, tmp_path):
    code, err = check(capsys, tmp_path / "nowhere")
    assert code == 2 and f"content folder '{tmp_path / 'nowhere'}' does not exist" in err
    (tmp_path / "empty").mkdir()
    code, err = check(capsys, tmp_path / "empty")
    assert code == 1 and err == (f"{tmp_path / 'empty'}: error: the folder holds no .md files; write the briefing "
                                 "there (one .md file per part), or start one with `briefkit new DIR`\n")


def test_missing_templates_folder_names_the_fix(capsys, tmp_path):
    code, _, err = run(capsys, "build", "--content", str(CONTENT), "--templates", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert code == 2 and err == (f"briefkit build: error: templates folder '{tmp_path / 'nowhere'}' does not exist; "
                                 "omit --templates to use the built-in templates\n")
    assert not (tmp_path / "o").exists()


def test_project_templates_override_the_defaults_file_by_file(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "deck.md.j2").write_text("## Only slide\n\nOverridden deck.\n", encoding="utf-8")
    assert main(["build", "--content", str(CONTENT), "--templates", str(templates), "--out", str(tmp_path / "o"), "-q"]) == 0
    deck = zipfile.ZipFile(tmp_path / "o" / "deck.pptx")
    slides = [n for n in deck.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)]
    assert any(b"Overridden deck." in deck.read(n) for n in slides)
    assert any("Executive Summary" in t for _, t in docx_paragraphs(tmp_path / "o" / "memo.docx"))


def test_broken_template_names_file_and_line(capsys, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    lines = (templates / "memo.md.j2").read_text(encoding="utf-8").splitlines()
    lines.insert(4, "{% for x in %}")
    (templates / "memo.md.j2").write_text("\n".join(lines), encoding="utf-8")
    code, _, err = run(capsys, "check", "--content", str(CONTENT), "--templates", str(templates))
    assert code == 1 and err.startswith(f"{templates}/memo.md.j2:5: error: template syntax error")


def test_undefined_template_variable_names_line(capsys, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    text = (templates / "deck.md.j2").read_text(encoding="utf-8") + "{{ pillar_of_salt }}\n"
    (templates / "deck.md.j2").write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "check", "--content", str(CONTENT), "--templates", str(templates))
    n = text.count("\n")
    assert code == 1 and f"templates/deck.md.j2:{n}: error: template error: 'pillar_of_salt' is undefined" in err


# encodings -----------------------------------------------------------------------


def test_file_that_is_not_utf8(capsys, content_copy):
    (content_copy / "water.md").write_bytes(PILLAR.format(analysis="Caf\xe9").encode("latin-1"))
    code, err = check(capsys, content_copy)
    offset = len((PILLAR.split("{analysis}")[0] + "Caf").encode())
    assert code == 1 and f"content/water.md:12: error: not UTF-8 text: byte 0xe9 at offset {offset}" in err


def test_bom_and_crlf_are_accepted(capsys, content_copy, tmp_path):
    text = PILLAR.format(analysis="Ríos compartidos.").replace("\n", "\r\n")
    (content_copy / "water.md").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    code, err = build(capsys, content_copy, tmp_path / "out", "--format", "docx")
    assert code == 0 and err == ""
    assert any(t == "Ríos compartidos." for _, t in docx_paragraphs(tmp_path / "out" / "memo.docx"))


# images --------------------------------------------------------------------------


def test_missing_image_and_path_traversal_are_refused(capsys, content_copy):
    write(content_copy, "water.md", PILLAR.format(analysis="![map](maps/none.png)\n\n![secret](../../etc/passwd)"))
    code, err = check(capsys, content_copy)
    assert code == 1
    assert "content/water.md:12: error: image 'maps/none.png' does not exist" in err
    assert "content/water.md:14: error: image '../../etc/passwd' lies outside the content folder; refused" in err


def test_image_inside_the_content_folder_goes_into_every_format(capsys, content_copy, tmp_path):
    from PIL import Image

    (content_copy / "maps").mkdir()
    Image.new("RGB", (400, 200), (20, 60, 90)).save(content_copy / "maps" / "border.png")
    write(content_copy, "water.md", PILLAR.format(analysis="Basins:\n\n![Border basins](maps/border.png)"))
    code, err = build(capsys, content_copy, tmp_path / "out")
    assert code == 0, err
    with zipfile.ZipFile(tmp_path / "out" / "memo.docx") as z:
        assert any(n.startswith("word/media/") for n in z.namelist())
    with zipfile.ZipFile(tmp_path / "out" / "deck.pptx") as z:
        assert not any(n.startswith("ppt/media/") for n in z.namelist())  # the deck template shows no analysis
    assert any("/XObject" in (p["/Resources"] or {}) for p in pypdf.PdfReader(str(tmp_path / "out" / "brief.pdf")).pages)


def test_image_without_alt_text_is_a_warning_and_an_error_under_strict(capsys, content_copy):
    from PIL import Image

    (content_copy / "maps").mkdir()
    Image.new("RGB", (40, 20)).save(content_copy / "maps" / "border.png")
    write(content_copy, "water.md", PILLAR.format(analysis="Basins:\n\n![ ](maps/border.png)"))
    line = "content/water.md:14: {}: image 'maps/border.png' has no alt text, so a screen reader cannot say what it shows"
    code, err = check(capsys, content_copy)
    assert code == 0 and line.format("warning") in err, err
    code, err = check(capsys, content_copy, "--strict")
    assert code == 1 and line.format("error") in err, err



def test_a_file_loaded_again_as_it_was_has_its_images_checked_again(content_copy):
    """`watch` loads the folder after every edit, and a text read before is not checked again;
    its images are: one deleted since is an error, and so is a text that changed."""
    from PIL import Image
    from briefkit.loading import load_content

    (content_copy / "maps").mkdir()
    Image.new("RGB", (40, 20)).save(content_copy / "maps" / "border.png")
    write(content_copy, "water.md", PILLAR.format(analysis="Basins:\n\n![Border basins](maps/border.png)"))
    assert not load_content(content_copy).warnings
    (content_copy / "maps" / "border.png").unlink()
    with pytest.raises(BuildErrors) as e:
        load_content(content_copy)
    assert [str(f) for f in e.value.findings] == [f"{content_copy}/water.md:14: error: image 'maps/border.png' does not exist"]
    write(content_copy, "water.md", PILLAR.format(analysis="Basins.").replace("kind: pillar", "kind: pillar\ncolour: blue"))
    with pytest.raises(BuildErrors) as e:
        load_content(content_copy)
    assert [f.message.split(";")[0] for f in e.value.findings] == ["unknown key 'colour' for a pillar"]

# content is data -------------------------------------------------------------------

HOSTILE = ("Tags <script>alert(1)</script> and <b>bold</b>; braces {{ briefing.title }} and {% if x %}; "
           "AT&T <less> & more; entity &amp; stays")


def _all_text(out) -> tuple[str, str, str]:
    memo = " ".join(t for _, t in docx_paragraphs(out / "memo.docx"))
    brief = " ".join(p.extract_text() for p in pypdf.PdfReader(str(out / "brief.pdf")).pages)
    deck = Presentation(str(out / "deck.pptx"))
    slides = " ".join(sh.text_frame.text for s in deck.slides for sh in s.shapes if sh.has_text_frame)
    return memo, " ".join(brief.split()), slides


def _with_summary(content, text: str) -> None:
    path = content / "trade.md"
    lines = path.read_text(encoding="utf-8").splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("summary:"))
    j = next(j for j in range(i + 1, len(lines)) if not lines[j].startswith("  "))
    lines[i:j] = ["summary: |-", "  " + text]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_markup_and_template_syntax_print_literally_everywhere(capsys, content_copy, tmp_path):
    _with_summary(content_copy, HOSTILE)
    code, err = build(capsys, content_copy, tmp_path / "out")
    assert code == 0, err
    for text in _all_text(tmp_path / "out"):
        assert HOSTILE in text


def test_unsafe_link_schemes_are_not_clickable(capsys, content_copy, tmp_path):
    _with_summary(content_copy, "See [the script](javascript:alert(1)), [a file](file:///etc/passwd) and [a site](https://example.org/ok).")
    code, err = build(capsys, content_copy, tmp_path / "out")
    assert code == 0, err
    out = tmp_path / "out"
    with zipfile.ZipFile(out / "memo.docx") as z:
        rels = z.read("word/_rels/document.xml.rels").decode()
    with zipfile.ZipFile(out / "deck.pptx") as z:
        deck_rels = " ".join(z.read(n).decode() for n in z.namelist() if n.endswith(".rels"))
    uris = [a.get_object()["/A"].get("/URI", "") for p in pypdf.PdfReader(str(out / "brief.pdf")).pages
            for a in p.get("/Annots") or [] if "/A" in a.get_object()]
    for where in (rels, deck_rels, " ".join(uris)):
        assert "javascript:" not in where and "file:" not in where
    assert "https://example.org/ok" in rels and "https://example.org/ok" in deck_rels and "https://example.org/ok" in uris
    for text in _all_text(out):
        assert "See the script, a file and a site." in text


def test_long_words_and_urls_wrap_inside_page_and_slide(capsys, content_copy, tmp_path):
    from test_brief_pdf import _assert_inside_margins
    from test_deck_pptx import assert_nothing_overflows
    from briefkit.theme import load_theme

    word, url = "Q" * 2000, "https://example.org/" + "z" * 1980
    _with_summary(content_copy, f"Long {word} and [{url}]({url}) end.")
    code, err = build(capsys, content_copy, tmp_path / "out")
    assert code == 0, err
    for text in _all_text(tmp_path / "out"):  # printed whole, wrapped wherever it had to break
        assert text.count("Q") >= 2000 and text.count("z") >= 1980
    _assert_inside_margins((tmp_path / "out" / "brief.pdf").read_bytes(), load_theme(Templates.of(TEMPLATES)))
    assert_nothing_overflows(Presentation(str(tmp_path / "out" / "deck.pptx")))


# exit codes and nothing lost -------------------------------------------------------


def test_usage_errors_exit_2(capsys):
    assert run(capsys, "build", "--format", "odt")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys)[0] == 2


def test_debug_shows_the_traceback(capsys, tmp_path):
    assert main(["--debug", "check", "--content", str(tmp_path)]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_failed_build_leaves_previous_deliverables_byte_identical(capsys, content_copy, tmp_path):
    out = tmp_path / "out"
    assert build(capsys, content_copy, out)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    write(content_copy, "water.md", "---\nkind: pillar\ntitle: [broken\n---\n")
    (content_copy / "trade.md").write_bytes(b"\xff\xfe\x00garbage")
    assert build(capsys, content_copy, out)[0] == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_renderer_failure_writes_nothing(capsys, monkeypatch, tmp_path):
    out = tmp_path / "out"
    assert build(capsys, CONTENT, out)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = build_module.renderer

    def failing(fmt):
        if fmt == "pptx":
            def boom(doc, theme):
                raise KeyboardInterrupt
            return boom
        return real(fmt)

    monkeypatch.setattr(build_module, "renderer", failing)
    assert main(["build", "--content", str(CONTENT), "--templates", str(TEMPLATES), "--out", str(out), "-q"]) == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_citation_lost_in_an_extra_table_cell_is_reported(capsys, content_copy, tmp_path):
    write(content_copy, "water.md", PILLAR.format(analysis="| a | b |\n|---|---|\n| 1 | 2 | 3[^lost] |\n\n[^lost]: Gone."))
    code, err = build(capsys, content_copy, tmp_path / "out")
    assert code == 0 and "content/water.md:16: warning: note [^lost] is cited, but no deliverable shows the citation" in err
    code, err = check(capsys, content_copy, "--strict")
    assert code == 1 and "content/water.md:16: error: note [^lost] is cited, but no deliverable" in err
