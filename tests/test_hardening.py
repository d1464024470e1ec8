"""Hostile content: refused at its file and line, in bounded time, never a traceback."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import zlib
from pathlib import Path

import pdfplumber
import pypdf
import pytest
import yaml
from docx import Document as DocxDocument
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from briefkit import loading
from briefkit.cli import main
from conftest import TEMPLATES, docx_endnotes, write

LINE = re.compile(r"^\S+:\d+: (error|warning): \S.*$|^\S+: (error|warning): \S.*$")


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def check(capsys, content: Path) -> tuple[int, list[str]]:
    code, err = run(capsys, "check", "--content", str(content), "--templates", str(TEMPLATES))
    lines = err.strip().split("\n") if err.strip() else []
    assert all(LINE.match(line) for line in lines), err
    return code, lines


def section(content: Path, front_matter: str, body: str = "Text.\n", name: str = "water.md") -> Path:
    """A section file with the given front matter lines (after `kind: section`, on line 3 on)."""
    return write(content, name, f"---\nkind: section\n{front_matter}---\n{body}")


def refused(capsys, content: Path, path: Path, line: int, message: str) -> None:
    code, lines = check(capsys, content)
    where = f"{path}:{line}" if line else f"{path}"
    assert code == 1 and lines == [f"{where}: error: {message}"], lines


def memo_text(capsys, content: Path, out: Path) -> str:
    assert run(capsys, "build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(out),
               "-q", "--format", "docx")[0] == 0
    return "\n".join(p.text for p in DocxDocument(str(out / "memo.docx")).paragraphs)


# front matter ----------------------------------------------------------------------------------

BILLION_LAUGHS = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10))


@pytest.mark.parametrize("front_matter, line, message", [
    ("title: &t Water\nsummary: *t\n", 3, "YAML anchors and aliases ('&name', '*name') are not allowed in front "
                                          "matter; write the value out"),
    ("title: Water\nl0: &l0 [lol]\n" + BILLION_LAUGHS, 4, "YAML anchors and aliases ('&name', '*name') are not "
                                                          "allowed in front matter; write the value out"),
    ("title: !!int abc\n", 3, "YAML tags such as '!!int' are not allowed in front matter; write the value as text"),
    ("title: Water\nsummary: !!float x\n", 4, "YAML tags such as '!!float' are not allowed in front matter; "
                                             "write the value as text"),
    ("title: !!timestamp 2025-13-01\n", 3, "YAML tags such as '!!timestamp' are not allowed in front matter; "
                                           "write the value as text"),
    ("title: !custom x\n", 3, "YAML tags such as '!custom' are not allowed in front matter; write the value as text"),
    ("title: Water\n? [a, b]\n: c\n", 4, "front-matter keys must be words such as 'title:', not a list, a mapping "
                                         "or nothing"),
    ("title: Water\n{a: b}: c\n", 4, "front-matter keys must be words such as 'title:', not a list, a mapping "
                                     "or nothing"),
    ("title: Water\n1: c\n", 4, "unknown key '1' for a section; allowed: kind, role, title, summary, deck, extra; put keys of your own under 'extra:'"),
    ("title: Water\ntitle: Rivers\n", 4, "key 'title' appears twice (first on line 3)"),
    ("title: [Water, Rivers]\n", 3, "'title' must be text (title: some words), not a list"),
    ("title: {text: Water}\n", 3, "'title' must be text (title: some words), not a mapping"),
    ("title: Water\nsummary: [[[[[[[[[[x]]]]]]]]]]\n", 4, "front matter nests lists and mappings more than 8 deep"),
    ('title: "Wa\\x01ter"\n', 3, "control character U+0001 in a front-matter value; delete it"),
    ('title: "Wa\\uFFFEter"\n', 3, "non-character U+FFFE in a front-matter value; delete it"),
])
def test_front_matter_refusals(capsys, content_copy, front_matter, line, message):
    path = section(content_copy, front_matter)
    refused(capsys, content_copy, path, line, message)


@pytest.mark.parametrize("loader", ["CSafeLoader", "SafeLoader"])
def test_the_python_parser_refuses_the_same(capsys, content_copy, monkeypatch, loader):
    """PyYAML's own parser (used where libyaml is missing) gives the same events; libyaml refuses "\\ud800" itself."""
    if not hasattr(yaml, loader):
        pytest.skip(f"PyYAML has no {loader} here")
    monkeypatch.setattr(loading, "_YAML_LOADER", getattr(yaml, loader))
    path = section(content_copy, 'title: "Wa\\ud800ter"\nl0: &l0 [lol]\n')
    code, lines = check(capsys, content_copy)
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"{path}:3: error: ")
    assert ("lone surrogate U+D800" if loader == "SafeLoader" else "invalid Unicode character escape") in lines[0]
    section(content_copy, "title: Water\nl0: &l0 [lol]\n")
    assert check(capsys, content_copy)[1] == [f"{path}:4: error: YAML anchors and aliases ('&name', '*name') are "
                                              "not allowed in front matter; write the value out"]


def test_billion_laughs_is_refused_before_any_expansion(capsys, content_copy):
    """Ten levels of nine aliases would expand to a billion items; the first anchor stops it."""
    laughs = "l0: &l0 [lol]\n" + "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10))
    path = section(content_copy, laughs + "title: Water\n")
    code, lines = check(capsys, content_copy)
    assert code == 1 and lines == [f"{path}:3: error: YAML anchors and aliases ('&name', '*name') are not allowed "
                                   "in front matter; write the value out"]


@pytest.mark.parametrize("key_line, message", [
    ("recommendations: Build a partnership.\n", "'recommendations' must be a list of text items, one per line "
                                                "starting with '- ' (or [a, b] on one line), not text"),
    ("recommendations:\n  - [nested, list]\n", "'recommendations' item 1 must be text, not a list"),
    ("figures: 4 patterns\n", "'figures' must be a list of figures, each with 'value:', 'label:' and optionally "
                              "'note:', not text"),
    ("figures:\n  - value: 4\n", "'figures' item 1 is missing 'label'"),
    ("order: [1]\n", "'order' must be a whole number such as 2 (at most 9 digits), not a list"),
    ("order: 12345678901234567890\n", "'order' must be a whole number such as 2 (at most 9 digits), not "
                                      "'12345678901234567890'"),
])
def test_a_pillar_key_of_the_wrong_shape_names_the_shape(capsys, content_copy, key_line, message):
    path = content_copy / "migration.md"
    text = path.read_text(encoding="utf-8")
    key = key_line.split(":")[0]
    kept = re.sub(rf"^{key}:.*\n(?:(?:  |- ).*\n)*", "", text, count=1, flags=re.M)
    write(content_copy, "migration.md", kept.replace("---\n", "---\n" + key_line, 1))
    refused(capsys, content_copy, path, 2, message)


def test_scalars_stay_the_text_typed(capsys, content_copy, tmp_path):
    """Dates, numbers and yes/no are text where the schema wants text; `order` is a number."""
    section(content_copy, "role: conclusion\ntitle: 2025-13-01\nsummary: yes\n", name="conclusion.md")
    section(content_copy, "role: introduction\ntitle: 9999-12-31 0x1F 1e3\n", name="introduction.md")
    text = memo_text(capsys, content_copy, tmp_path / "out")
    assert "2025-13-01" in text and "9999-12-31 0x1F 1e3" in text


def test_an_empty_optional_key_is_as_if_absent(capsys, content_copy):
    section(content_copy, "title: Water\nsummary:\n")
    assert check(capsys, content_copy)[0] == 0


def test_an_empty_required_key_is_missing(capsys, content_copy):
    path = section(content_copy, "title: ~\n")
    refused(capsys, content_copy, path, 3, "missing required key 'title' for a section")


def test_oversize_front_matter_is_refused_before_parsing(capsys, content_copy):
    path = section(content_copy, "title: Water\nsummary: " + "word " * 8000 + "\n")
    refused(capsys, content_copy, path, 2, "front matter is 40,036 bytes; the limit is 32,768 (long text "
                                           "belongs in the body)")


# characters and special files -------------------------------------------------------------------


@pytest.mark.parametrize("body, line, message", [
    ("Rivers\x0bcross.\n", 5, "control character U+000B (vertical tab) at column 7; no memo, PDF or slide can show "
                             "it: delete it"),
    ("Rivers.\n\nSee [the\x01 treaty](https://example.org/) and\x01 more.\n", 7,
     "control character U+0001 at column 9 (and 1 more on this line); no memo, PDF or slide can show it: delete it"),
    ("A\x7f.\n", 5, "control character U+007F (delete) at column 2; no memo, PDF or slide can show it: delete it"),
    ("A\ufffe.\n", 5, "non-character U+FFFE at column 2; no memo, PDF or slide can show it: delete it"),
    ("A\x00.\n", 5, "control character U+0000 (NUL) at column 2; no memo, PDF or slide can show it: delete it"),
])
def test_control_characters_in_prose_are_reported_with_code_point(capsys, content_copy, body, line, message):
    path = section(content_copy, "title: Water\n", body)
    refused(capsys, content_copy, path, line, message)


def test_control_characters_in_front_matter_text_are_reported(capsys, content_copy):
    path = section(content_copy, "title: Wa\x1bter\n")
    refused(capsys, content_copy, path, 3, "control character U+001B (escape) at column 10; no memo, PDF or slide "
                                           "can show it: delete it")


def test_many_lines_of_control_characters_give_ten_lines_and_a_count(capsys, content_copy):
    section(content_copy, "title: Water\n", "x\x02\n" * 25)
    code, lines = check(capsys, content_copy)
    assert code == 1 and len(lines) == 11 and lines[-1].endswith("water.md: error: 15 more lines hold such characters")


def test_a_lone_surrogate_written_as_bytes_is_not_utf8(capsys, content_copy):
    path = content_copy / "water.md"
    path.write_bytes(b"---\nkind: section\ntitle: Water\n---\nA \xed\xa0\x80 b\n")
    refused(capsys, content_copy, path, 5, "not UTF-8 text: byte 0xed at offset 37; save the file as UTF-8")


def test_special_files_are_refused_unread(capsys, content_copy, tmp_path):
    os.mkfifo(content_copy / "pipe.md")
    (content_copy / "zero.md").symlink_to("/dev/zero")
    (content_copy / "folder.md").mkdir()
    code, lines = check(capsys, content_copy)
    assert code == 1 and lines == [
        f"{content_copy}/folder.md: error: not a regular file but a folder; only regular files are read",
        f"{content_copy}/pipe.md: error: not a regular file but a named pipe (FIFO); only regular files are read",
        f"{content_copy}/zero.md: error: not a regular file but a device; only regular files are read",
    ]


def test_a_file_above_the_size_limit_is_refused(capsys, content_copy):
    path = section(content_copy, "title: Water\n", ("word " * 20 + "\n\n") * 11000)
    refused(capsys, content_copy, path, 0, "file is larger than the limit of 1,048,576 bytes")


# limits -----------------------------------------------------------------------------------------


def nested_lists(levels: int) -> str:
    return "".join("    " * i + f"- level {i + 1}\n" for i in range(levels))


@pytest.mark.parametrize("body, line, message", [
    ("Rivers.\n\n" + nested_lists(9), 15, "lists and block quotes nested 9 deep; the limit is 8"),
    ("Rivers.\n\n" + ">" * 10_000 + " deep\n", 7, "lists and block quotes nested 10000 deep; the limit is 8"),
    ("- " * 5_000 + "deep\n", 5, "lists and block quotes nested 5000 deep; the limit is 8"),
    ("> - > - > 1. > - > deep\n", 5, "lists and block quotes nested 9 deep; the limit is 8"),
    ("Rivers.\n\n" + "[" * 5000 + "x" + "]" * 5000 + "\n", 7,
     "more than 16 '[' open at once; close them, or write a literal '[' as '\\['"),
    ("A\n[\n" * 20, 38, "more than 16 '[' open at once; close them, or write a literal '[' as '\\['"),
    ("Rivers.\n\n" + "word " * 12_000 + "\n", 7, "paragraph longer than 20,000 characters; add blank lines between "
                                                "its parts"),
    ("[a](" * 2000 + "\n", 5, "more than 16 '(' open at once; close them, or write a literal '(' as '\\('"),
    ("`" * 50_000 + "[^n] x\n", 0, ""),
    ("| " + " | ".join("h" * 21) + " |\n|" + "---|" * 21 + "\n", 6, "table has 21 columns; the limit is 20"),
    ("| a | b |\n|---|---|\n" + "| x | y |\n" * 501, 507, "table has more than 500 rows (it starts at line 5); "
                                                         "split it"),
])
def test_limits_are_reported_at_their_line(capsys, content_copy, body, line, message):
    path = section(content_copy, "title: Water\n", body)
    if message:
        refused(capsys, content_copy, path, line, message)
    else:  # within the limits: checked (a quadratic scan would not finish)
        check(capsys, content_copy)


@pytest.mark.parametrize("value, message", [
    ('"' + "[" * 5000 + '"', "more than 16 '[' open at once; close them, or write a literal '[' as '\\['"),
    ('"' + "> " * 5000 + 'x"', "lists and block quotes nested 5000 deep; the limit is 8"),
])
def test_limits_apply_to_front_matter_text(capsys, content_copy, value, message):
    path = section(content_copy, f"title: Water\nsummary: {value}\n")
    refused(capsys, content_copy, path, 4, message)


def test_deep_emphasis_is_reported_at_its_line(capsys, content_copy):
    path = section(content_copy, "title: Water\n", "Rivers.\n\n" + "*" * 5000 + "Rivers" + "*" * 5000 + "\n")
    refused(capsys, content_copy, path, 7, "a run of 5000 '*' or '_' next to text nests emphasis more than 24 deep; "
                                           "write a literal '*' or '_' as '\\*' or '\\_'")


def test_too_many_notes(capsys, content_copy):
    section(content_copy, "title: Water\n", "Rivers.\n\n" + "".join(f"[^n{i}]: Note {i}.\n" for i in range(10_000)))
    code, lines = check(capsys, content_copy)
    assert code == 1 and f"{content_copy}: error: 10,026 notes are defined; the limit is 10,000" in lines


def test_content_at_every_limit_builds_and_reads_back(capsys, content_copy, tmp_path):
    """Eight levels of lists and quotes, sixteen open brackets, a 20,000-character paragraph, a 500-row table."""
    body = ("Rivers.\n\n" + nested_lists(8) + "\n" + "> " * 8 + "deepest quote\n\n"
            + "- a\n    > b\n    >\n    > - c\n    >     > d\n    >     >\n    >     > - e\n    >     >     > f"
              "\n    >     >     >\n    >     >     > - innermost\n\n"
            + "[" * 16 + "bracketed" + "]" * 16 + "\n\n" + ("word " * 3_990).strip() + " last\n\n"
            + "| a | b |\n|---|---|\n" + "| x | y |\n" * 499 + "| final | row |\n")
    section(content_copy, "role: introduction\ntitle: Water\n", body, name="introduction.md")
    out = tmp_path / "out"
    code, err = run(capsys, "build", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out), "-q")
    assert code == 0, err
    memo = "\n".join(p.text for p in DocxDocument(str(out / "memo.docx")).paragraphs)
    pdf = "".join(page.extract_text() for page in pypdf.PdfReader(str(out / "brief.pdf")).pages)
    for text in (" ".join(memo.split()), " ".join(pdf.split())):
        assert "level 8" in text and "deepest quote" in text and "innermost" in text and "word last" in text
        assert "[" * 16 + "bracketed" + "]" * 16 in text
    assert "final" in pdf


# images -----------------------------------------------------------------------------------------


def png(size: tuple[int, int], mode: str = "RGB", colour="red") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, "PNG")
    return out.getvalue()


def claimed_size(data: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims another size (with a correct checksum): what a decompression bomb does."""
    header = bytearray(data[8:33])
    header[8:16] = struct.pack(">II", width, height)
    header[21:25] = struct.pack(">I", zlib.crc32(bytes(header[4:21])))
    return data[:8] + bytes(header) + data[33:]


def saved(fmt: str, mode: str, **kw) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (120, 80), "red" if mode != "CMYK" else (0, 255, 255, 0)).save(out, fmt, **kw)
    return out.getvalue()


@pytest.mark.parametrize("name, data, problem", [
    ("chart.png", b"not an image at all\n" * 20, "is not an image file; only PNG, JPEG and GIF are supported: export it "
                                                 "as PNG (drawings, charts) or JPEG (photographs)"),
    ("chart.png", png((400, 300))[:200], "is damaged or incomplete (image file is truncated); export it again"),
    ("chart.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
     "is an SVG drawing; only PNG, JPEG and GIF are supported: export it as PNG (drawings, charts) or JPEG "
     "(photographs)"),
    ("chart.webp", saved("WEBP", "RGB"), "is a WEBP image; only PNG, JPEG and GIF are supported: export it as PNG "
                                        "(drawings, charts) or JPEG (photographs)"),
    ("photo.jpg", saved("JPEG", "CMYK"), "is a CMYK JPEG, a print format the memo, brief and deck cannot all show "
                                         "alike: save it as RGB"),
    ("bomb.png", claimed_size(png((10, 10)), 20_000, 20_000),
     "is 20,000 x 20,000 pixels (400 megapixels); the limit is 50 megapixels: scale it down"),
    ("big.png", claimed_size(png((10, 10)), 8_000, 7_000),
     "is 8,000 x 7,000 pixels (56 megapixels); the limit is 50 megapixels: scale it down"),
])
def test_unusable_images_are_one_line_at_their_reference(capsys, content_copy, name, data, problem):
    (content_copy / name).write_bytes(data)
    path = section(content_copy, "title: Water\n", f"Rivers.\n\n![A chart]({name})\n")
    refused(capsys, content_copy, path, 7, f"image '{name}' {problem}")


def test_an_image_that_is_a_pipe_is_refused_unread(capsys, content_copy):
    os.mkfifo(content_copy / "chart.png")
    path = section(content_copy, "title: Water\n", "![A chart](chart.png)\n")
    refused(capsys, content_copy, path, 5, "image 'chart.png' cannot be used: not a regular file but a named pipe "
                                           "(FIFO); only regular files are read")


def test_large_images_fit_the_page_and_the_slide(capsys, content_copy, tmp_path):
    """A tall and a wide image: within the text width and the page height in the memo and the brief, on the slide."""
    (content_copy / "tall.png").write_bytes(png((300, 6000)))
    (content_copy / "wide.png").write_bytes(png((6000, 300), colour="green"))
    context = content_copy / "strategic-context.md"  # a section in the memo, the brief and the deck
    write(content_copy, context.name, context.read_text(encoding="utf-8")
          + "\n![A tall chart](tall.png)\n\n![A wide chart](wide.png)\n")
    out = tmp_path / "out"
    code, err = run(capsys, "build", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out), "-q")
    assert code == 0, err
    with pdfplumber.open(out / "brief.pdf") as pdf:
        drawn = [(im, page) for page in pdf.pages for im in page.images]
        assert len(drawn) == 2
        for im, page in drawn:
            assert 0 <= im["x0"] < im["x1"] <= page.width and 0 <= im["top"] < im["bottom"] <= page.height
            assert im["height"] < page.height * 0.8 and im["width"] < page.width * 0.8
    memo = DocxDocument(str(out / "memo.docx"))
    s = memo.sections[0]
    shapes = memo.inline_shapes
    assert len(shapes) == 2
    for shape in shapes:
        assert shape.width <= s.page_width - s.left_margin - s.right_margin
        assert shape.height <= s.page_height - s.top_margin - s.bottom_margin
    deck = Presentation(str(out / "deck.pptx"))
    pictures = [sh for slide in deck.slides for sh in slide.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert len(pictures) == 2
    for pic in pictures:
        assert 0 <= pic.left and pic.left + pic.width <= deck.slide_width
        assert 0 <= pic.top and pic.top + pic.height <= deck.slide_height


@pytest.mark.parametrize("loader", ["CSafeLoader", "SafeLoader"])
def test_a_character_yaml_refuses_is_one_line_at_its_line(capsys, content_copy, monkeypatch, loader):
    if not hasattr(yaml, loader):
        pytest.skip(f"PyYAML has no {loader} here")
    monkeypatch.setattr(loading, "_YAML_LOADER", getattr(yaml, loader))
    path = section(content_copy, "title: Water\nsummary: é x\x80y\n")
    refused(capsys, content_copy, path, 4, "invalid YAML front matter: character U+0080 is not allowed in YAML; "
                                           "delete it")


# long tokens ------------------------------------------------------------------------------------


def test_long_words_urls_runs_and_whitespace_build_in_every_format(capsys, content_copy, tmp_path):
    """A 5,000-character word and URL in a note, bold runs in the text and in a recommendation (the deck's), long
    runs of tabs and backticks: scanned, parsed, broken into lines and measured in linear time."""
    word, url, bold = "7" * 5_000, "https://example.org/" + "8" * 5_000, "9" * 5_000
    trade = (content_copy / "trade.md").read_text(encoding="utf-8")
    trade = trade.replace("recommendations:\n", f'recommendations:\n  - "**{bold}**"\n', 1)
    trade = trade.replace("# Recommendations", f"Long[^longword] **{'6' * 5_000}**\n\n[^longword]: {word} at {url}\n\n"
                                                "# Recommendations", 1)
    write(content_copy, "trade.md", trade)
    context = content_copy / "strategic-context.md"
    write(content_copy, context.name, context.read_text(encoding="utf-8")
          + "\nTabs" + "\t" * 19_000 + "between.\n\nTicks " + "`" * 19_000 + " after.\n")
    out = tmp_path / "out"
    code, err = run(capsys, "build", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out), "-q")
    assert code == 0, err
    memo = "\n".join(p.text for p in DocxDocument(str(out / "memo.docx")).paragraphs) + "".join(
        docx_endnotes(out / "memo.docx").values())
    pdf = "".join(page.extract_text() for page in pypdf.PdfReader(str(out / "brief.pdf")).pages)
    deck = "\n".join(sh.text_frame.text for s in Presentation(str(out / "deck.pptx")).slides
                   for sh in s.shapes if sh.has_text_frame)

    def long_runs(text: str, char: str) -> int:
        """Characters in long runs of `char`: a token broken across lines or pages still counts whole."""
        return sum(len(run) for run in re.findall(rf"{char}{{20,}}", text))

    for text in (memo, pdf):
        assert [long_runs(text, c) for c in "678"] == [5_000] * 3
        assert "Tabs between." in text and long_runs(text, "`") == 19_000
    assert long_runs(deck, "9") == 5_000 and "Tabs between." in deck


def test_front_matter_longer_than_office_properties_allow_still_builds(content_copy, tmp_path):
    """Office keeps at most 255 characters in a document property; the page shows the whole text."""
    long = "American " + "University " * 40
    path = content_copy / "briefing.md"
    path.write_text(path.read_text(encoding="utf-8").replace("American University Diplomacy Lab", long.strip()),
                    encoding="utf-8")
    out = tmp_path / "out"
    assert main(["build", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out), "-q"]) == 0
    memo = DocxDocument(str(out / "memo.docx"))
    assert memo.core_properties.comments == long.strip()[:255]
    assert any(long.strip() in p.text for p in memo.paragraphs)
    assert len(Presentation(str(out / "deck.pptx")).core_properties.last_modified_by) == 255


def test_a_citation_in_a_yaml_comment_is_no_citation(capsys, content_copy):
    section(content_copy, "role: introduction\ntitle: Water  # from [^ghost]\n# summary: see [^ghost2]\nsummary: >-\n  Rivers.\n"
                          "  # kept: a block scalar's text [^w1]\n", "Rivers.\n\n[^w1]: A note.\n", name="introduction.md")
    code, lines = check(capsys, content_copy)
    assert code == 0 and not any("ghost" in line for line in lines), lines
    assert not any("never cited" in line for line in lines), lines  # [^w1] is cited in the summary's text


def test_a_theme_error_names_the_theme_file(capsys, content_copy, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    theme = templates / "theme.yaml"
    text = theme.read_text(encoding="utf-8")
    theme.write_text(text.replace("\n", "\nbroken: [unclosed\n", 1), encoding="utf-8")
    code, err = run(capsys, "check", "--content", str(content_copy), "--templates", str(templates))
    assert code == 1 and re.fullmatch(rf"{theme}:\d+: error: invalid YAML in the theme file: .+\n", err), err
    theme.write_text(text.replace("\n", "\nbroken: &a x\n", 1), encoding="utf-8")
    code, err = run(capsys, "check", "--content", str(content_copy), "--templates", str(templates))
    assert code == 1 and err == (f"{theme}:2: error: YAML anchors and aliases ('&name', '*name') are not allowed in "
                                 "the theme file; write the value out\n"), err


def test_emphasis_nested_past_the_limit_by_single_marks_is_reported_at_its_line(capsys, content_copy):
    path = section(content_copy, "role: introduction\ntitle: Water\n", "Rivers.\n\n" + "*a " * 40 + "**b**" + " a*" * 40
                   + "\n\n" + "_c " * 40 + "d" + " c_" * 40 + "\n", name="introduction.md")
    refused(capsys, content_copy, path, 8, "emphasis nested 41 deep; the limit is 24; write a literal '*' or '_' as "
                                           "'\\*' or '\\_'")


def test_emphasis_nested_past_the_limit_in_front_matter_is_reported_at_its_line(capsys, content_copy):
    path = section(content_copy, "title: Water\nsummary: " + "_c " * 30 + "d" + " c_" * 30 + "\n")
    refused(capsys, content_copy, path, 4, "emphasis nested 30 deep; the limit is 24; write a literal '*' or '_' as "
                                           "'\\*' or '\\_'")


def test_emphasis_within_the_limit_and_unclosed_marks_build(capsys, content_copy):
    """Unclosed marks, a 'snake_case' word and nesting at the limit are no problem."""
    section(content_copy, "role: introduction\ntitle: Water\n", "Rivers.\n\n" + "*a " * 60 + "snake_case_name " * 30 + "\n\n"
            + "*a " * 12 + "_b " * 12 + "c" + " b_" * 12 + " a*" * 12 + "\n", name="introduction.md")
    code, lines = check(capsys, content_copy)
    assert code == 0 and not lines, lines


def test_a_paragraph_split_across_pages_around_a_very_long_word_lays_out(content_copy, tmp_path):
    """Set again on its own, the first part of a split paragraph took more lines than it had
    within the whole (reportlab's LayoutError); found by the fuzz test."""
    path = content_copy / "conclusion.md"
    at = "relationship with Mexico to advance critical national interest"
    path.write_text(path.read_text(encoding="utf-8").replace(at, at + "]" * 2901), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["build", "--content", str(content_copy), "--templates", str(TEMPLATES), "--out", str(out), "-q",
                 "--format", "pdf"]) == 0
    text = "".join(page.extract_text() for page in pypdf.PdfReader(str(out / "brief.pdf")).pages)
    assert text.count("]") >= 2901
