"""Briefings of any shape, built by the `briefkit` command from a folder outside the repository:
sections found by role, optional parts and summaries left out whole, with a warning each."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from pptx import Presentation

from conftest import CONTENT, docx_paragraphs

BRIEFKIT = Path(sys.executable).parent / "briefkit"


def run_here(cwd: Path, *command: str, **env: str) -> subprocess.CompletedProcess:
    """A command run in `cwd` as a user would, with this briefkit's `briefkit` on the PATH."""
    env = {**os.environ, "PATH": f"{BRIEFKIT.parent}{os.pathsep}{os.environ.get('PATH', '')}", **env}
    return subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def briefkit(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return run_here(cwd, "briefkit", *args, **env)


def memo_headings(path: Path) -> list[tuple[int, str]]:
    return [(int(style[-1]), text) for style, text in docx_paragraphs(path) if re.fullmatch(r"Heading\d", style)]


def empty_headings(path: Path) -> list[str]:
    """Memo headings followed by no text before the next heading of the same or a higher level
    (the last heading, "Endnotes", is followed by Word's endnotes, which live in another part)."""
    paras = [(int(s[-1]) if re.fullmatch(r"Heading\d", s) else 0, t) for s, t in docx_paragraphs(path) if t.strip()]
    empty = []
    for i, (level, text) in enumerate(paras):
        following = paras[i + 1][0] if i + 1 < len(paras) else 0
        if level and following and following <= level:
            empty.append(text)
    return empty


def pdf_outline(path: Path) -> list[tuple[int, str]]:
    reader = pypdf.PdfReader(str(path))

    def walk(items, depth):
        for item in items:
            yield from walk(item, depth + 1) if isinstance(item, list) else [(depth, item.title)]
    return list(walk(reader.outline, 0))


def slide_rows(path: Path, footer: str) -> list[tuple[str, str, str]]:
    """(layout, title, body text) of every slide: the title is its first text, the body the rest
    but the footer (the briefing's short title and the slide number)."""
    out = []
    for slide in Presentation(str(path)).slides:
        texts = [s.text_frame.text for s in slide.shapes if s.has_text_frame and s.text_frame.text.strip()]
        texts += [" ".join(c.text for c in row.cells) for s in slide.shapes if s.has_table for row in s.table.rows]
        body = [t for t in texts[1:] if t != footer and not t.isdigit()]
        out.append((slide.slide_layout.name, texts[0] if texts else "", " ".join(body)))
    return out


def slides(path: Path, footer: str = "U.S. Policy Towards Mexico") -> list[tuple[str, str]]:
    """(title, body text) of every slide."""
    return [(title, body) for _, title, body in slide_rows(path, footer)]


def blank_slides(path: Path, footer: str = "U.S. Policy Towards Mexico") -> list[str]:
    """Titles of the slides that show a title and nothing else (but section dividers)."""
    return [title for layout, title, body in slide_rows(path, footer)
            if layout not in ("Title Slide", "Section Header") and not body.strip()]


def without(text: str, start: str, end: str | None = None) -> str:
    """`text` with the lines from the one starting `start` up to (not including) the one starting `end`."""
    lines = text.split("\n")
    i = next(n for n, line in enumerate(lines) if line.startswith(start))
    j = next((n for n, line in enumerate(lines[i + 1:], i + 1) if line.startswith(end)), len(lines)) if end else len(lines)
    return "\n".join(lines[:i] + lines[j:])


@pytest.fixture
def briefing(tmp_path) -> Path:
    """A folder outside the repository holding a copy of the real content in content/."""
    shutil.copytree(CONTENT, tmp_path / "content")
    return tmp_path


def test_no_conclusion_summary_and_no_recommendations_drop_headings_and_slides(briefing):
    content = briefing / "content"
    conclusion = content / "conclusion.md"
    conclusion.write_text(without(conclusion.read_text(encoding="utf-8"), "summary:", "---"), encoding="utf-8")
    trade = content / "trade.md"
    text = without(trade.read_text(encoding="utf-8"), "recommendations:", "figures:")
    trade.write_text(without(text, "# Recommendations", "[^"), encoding="utf-8")
    for pillar in ("migration.md", "security.md"):  # analysis only, without the '# Analysis' heading
        path = content / pillar
        path.write_text(without(path.read_text(encoding="utf-8"), "# Recommendations", "[^").replace("# Analysis\n", ""),
                        encoding="utf-8")

    checked = briefkit(briefing, "check")
    assert checked.returncode == 0, checked.stderr
    warnings = checked.stderr.splitlines()
    kind_line = lambda name: 1 + (content / name).read_text(encoding="utf-8").split("\n").index(  # noqa: E731
        next(line for line in (content / name).read_text(encoding="utf-8").split("\n") if line.startswith("kind:")))
    assert f"content/conclusion.md:{kind_line('conclusion.md')}: warning: no 'summary' here, which memo.md.j2 and " \
           "deck.md.j2 use; that part is left out" in warnings, checked.stderr
    assert f"content/trade.md:{kind_line('trade.md')}: warning: no 'recommendations' here, which memo.md.j2 and " \
           "deck.md.j2 use; that part is left out" in warnings, checked.stderr
    assert any(re.fullmatch(r"content/trade\.md:\d+: warning: no '# Recommendations' text here, which memo\.md\.j2 "
                            r"and deck\.md\.j2 use; that part is left out", w) for w in warnings), checked.stderr
    assert all(re.fullmatch(r"content/[a-z-]+\.md:\d+: warning: .+", w) for w in warnings), checked.stderr

    built = briefkit(briefing, "build")
    assert built.returncode == 0, built.stderr
    out = briefing / "build"
    memo = memo_headings(out / "memo.docx")
    assert not empty_headings(out / "memo.docx"), empty_headings(out / "memo.docx")
    assert [t for lvl, t in memo if t == "Conclusion"] == ["Conclusion"]  # the body's, not the summary's
    assert "Policy Recommendations" not in [t for _, t in memo]  # no pillar has a recommendations part
    assert (2, "Pillar I: Trade and USMCA") in memo
    outline = pdf_outline(out / "brief.pdf")
    assert [t for _, t in outline].count("Conclusion") == 1 and "Policy Recommendations" not in [t for _, t in outline]
    pdf_text = "\n".join(p.extract_text() for p in pypdf.PdfReader(str(out / "brief.pdf")).pages)
    assert "Key Recommendations" in pdf_text and pdf_text.count("Key Recommendations") == 2  # migration, security

    deck = slides(out / "deck.pptx")
    titles = [t for t, _ in deck]
    assert "Conclusion" not in titles and "Trade: key recommendations" not in titles
    assert "Migration: key recommendations" in titles
    assert "Policy Recommendations" not in titles and not [t for t in titles if "recommendations in detail" in t]
    assert not blank_slides(out / "deck.pptx"), blank_slides(out / "deck.pptx")


def test_sections_are_found_by_role_whatever_their_file_names(briefing):
    content = briefing / "content"
    for old, new in (("strategic-context.md", "01 background.md"), ("introduction.md", "opening.MD"),
                     ("conclusion.md", "zz-closing.md")):
        (content / old).rename(content / new)
    built = briefkit(briefing, "build", "--format", "docx,pptx")
    assert built.returncode == 0 and not built.stderr, built.stderr
    memo = memo_headings(briefing / "build" / "memo.docx")
    assert [t for lvl, t in memo if lvl == 1][:3] == ["Executive Summary", "Introduction", "Trade Policy and USMCA"]
    assert (2, "Strategic Context") in memo and memo.count((2, "Conclusion")) == 1
    titles = [t for t, _ in slides(briefing / "build" / "deck.pptx")]
    assert "Strategic Context" in titles and "Conclusion" in titles


def test_sections_are_optional_and_a_section_no_template_places_is_a_warning(briefing):
    content = briefing / "content"
    (content / "strategic-context.md").unlink()
    (content / "conclusion.md").unlink()
    intro = content / "introduction.md"
    intro.write_text(intro.read_text(encoding="utf-8").replace("role: introduction", "role: annex"), encoding="utf-8")
    (content / "draft.md").write_text("---\nkind: section\ntitle: Draft\n---\nNot yet placed.\n", encoding="utf-8")
    built = briefkit(briefing, "build")
    assert built.returncode == 0, built.stderr
    assert built.stderr.splitlines() == [
        "content/introduction.md:3: warning: no template places a section with 'role: annex' (the built-in ones "
        "place context, introduction, conclusion); its text is left out",
        "content/draft.md:2: warning: a section without a role is placed by no template; add 'role: context' or "
        "'role: introduction' or 'role: conclusion' to its front matter"]
    memo = memo_headings(briefing / "build" / "memo.docx")
    assert [t for lvl, t in memo if lvl == 1][:2] == ["Executive Summary", "Trade Policy and USMCA"]
    assert not empty_headings(briefing / "build" / "memo.docx")
    titles = [t for t, _ in slides(briefing / "build" / "deck.pptx")]
    assert "Strategic Context" not in titles and "Conclusion" not in titles


def test_two_sections_with_one_role_are_an_error(briefing):
    content = briefing / "content"
    shutil.copy(content / "conclusion.md", content / "closing.md")
    checked = briefkit(briefing, "check")
    assert checked.returncode == 1
    assert re.search(r"content/(closing|conclusion)\.md:3: error: a second section with 'role: conclusion' "
                     r"\(the first is content/(closing|conclusion)\.md\)", checked.stderr), checked.stderr


def test_a_role_is_a_lower_case_name(briefing):
    intro = briefing / "content" / "introduction.md"
    intro.write_text(intro.read_text(encoding="utf-8").replace("role: introduction", "role: Introduction"),
                     encoding="utf-8")
    checked = briefkit(briefing, "check")
    assert checked.returncode == 1 and checked.stderr == (
        "content/introduction.md:3: error: 'role' must be a lower-case name such as context, introduction, "
        "conclusion; got 'Introduction'\n")
