"""Template composition, with content passed as data."""

import re

from briefkit.templates import Templates
from briefkit.assembly import assemble, key_sentences
from briefkit.loading import load_content
from conftest import CONTENT, TEMPLATES, write


def test_memo_template_composes_the_executive_summary_then_the_body():
    text = assemble(load_content(CONTENT), Templates.of(TEMPLATES), "memo.md.j2")
    order = [m.group(0) for m in re.finditer(r"(?m)^#{1,2} .+$", text)]
    assert order[:6] == ["# Executive Summary", "## Strategic Context", "## Pillar I: Trade and USMCA",
                         "## Pillar II: Migration Management", "## Pillar III: Security Cooperation", "## Conclusion"]
    assert [h for h in order if h.startswith("# ")] == ["# Executive Summary", "# Introduction", "# Trade Policy and USMCA",
                                                       "# Migration", "# Security", "# Policy Recommendations", "# Conclusion"]
    assert text.count('!!! recommendations "Key Recommendations:"') == 3


def test_template_syntax_in_content_is_not_evaluated(content_copy):
    text = (content_copy / "introduction.md").read_text(encoding="utf-8") + "\nBraces {{ briefing.title }} and {% raw %}.\n"
    write(content_copy, "introduction.md", text)
    assert "Braces {{ briefing.title }} and {% raw %}." in assemble(load_content(content_copy), Templates.of(TEMPLATES), "memo.md.j2")


def test_key_sentences_takes_first_sentences_without_note_markers():
    md = "First one.[^a] Second one.\n\nThe U.S. border is long. More.\n\n# Heading\n\n- Item one. Item two."
    assert key_sentences(md) == "First one.\nThe U.S. border is long.\nItem one."
    assert key_sentences(md, 1) == "First one."


def test_lead_ins_group_recommendations_under_their_headings():
    from briefkit.assembly import lead_ins

    text = ("## Trade\n\n**Cut tariffs.** Lower duties help.[^a] More text.\n\n### Build ports.\n\n"
            "Ports need money. Later.\n\nA paragraph with no lead-in.\n\n## Energy\n\n**Share grids.**\n")
    assert lead_ins(text) == [
        {"heading": "Trade", "items": [{"lead": "Cut tariffs.", "detail": "Lower duties help."},
                                       {"lead": "Build ports.", "detail": "Ports need money."}]},
        {"heading": "Energy", "items": [{"lead": "Share grids.", "detail": ""}]},
    ]


def test_lead_ins_of_plain_paragraphs_and_lists_are_their_first_sentences():
    from briefkit.assembly import lead_ins

    assert lead_ins("Do this now. More text. Even more.\n\nDo that.[^a]\n\n[^a]: A note.\n") == [
        {"heading": "", "items": [{"lead": "Do this now.", "detail": "More text."}, {"lead": "Do that.", "detail": ""}]}]
    text = ("## Water\n\n- Share the rivers. Both sides gain.\n- Fund the dams\n  - with bonds.\n\n"
            "    Still the dams.\n\n## Energy\n\n1. Link the grids.\n")
    assert lead_ins(text) == [
        {"heading": "Water", "items": [{"lead": "Share the rivers.", "detail": "Both sides gain."},
                                       {"lead": "Fund the dams", "detail": ""}]},
        {"heading": "Energy", "items": [{"lead": "Link the grids.", "detail": ""}]},
    ]
    # one structured lead-in anywhere: plain paragraphs are the details, as before
    assert lead_ins("Intro.\n\n**Cut tariffs.** Lower duties.") == [
        {"heading": "", "items": [{"lead": "Cut tariffs.", "detail": "Lower duties."}]}]


def test_section_paragraphs_give_one_paragraph_per_section():
    from briefkit.assembly import section_paragraphs

    text = ("Intro first. Intro second.\n\n## Grids\n\nGrids first.[^a] More.\n\n- An item.\n- Another.\n\n"
            "| a | b |\n|---|---|\n\n!!! note\n    Aside.\n\n### Gas\n\nGas first.\n\n[^a]: A note.\n")
    assert section_paragraphs(text) == ("Intro first. Intro second.\n\nGrids first.[^a] More. An item. Another.\n\n"
                                        "Gas first.")
    assert section_paragraphs("One. Two.\n\nThree.\n") == "One. Two.\n\nThree."  # no headings: its paragraphs


def test_compiled_templates_are_kept_between_runs_and_never_outlive_an_edit(tmp_path):
    """A second run takes the compiled templates from the cache folder; an edited template is compiled again."""
    import os
    import shutil
    import subprocess
    import sys

    import docx

    from conftest import CONTENT

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))

    def memo_text() -> str:
        subprocess.run([sys.executable, "-m", "briefkit", "build", "--content", str(CONTENT), "--templates",
                        str(templates), "--out", str(tmp_path / "out"), "--format", "docx", "-q"], env=env, check=True)
        return "\n".join(p.text for p in docx.Document(str(tmp_path / "out" / "memo.docx")).paragraphs)

    assert "Executive Summary" in memo_text()
    cached = sorted((tmp_path / "cache" / "briefkit" / "templates").iterdir())
    assert cached  # the memo's template, compiled
    memo = templates / "memo.md.j2"
    memo.write_text(memo.read_text(encoding="utf-8").replace("# Executive Summary", "# Summary for Readers"),
                    encoding="utf-8")
    text = memo_text()
    assert "Summary for Readers" in text and "Executive Summary" not in text


def test_a_cache_folder_that_cannot_be_written_only_costs_the_compiling(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import CONTENT

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    run = subprocess.run([sys.executable, "-m", "briefkit", "build", "--content", str(CONTENT), "--out",
                          str(tmp_path / "out"), "--format", "docx", "-q"],
                         env=dict(os.environ, XDG_CACHE_HOME=str(blocked)), capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == ""
    assert (tmp_path / "out" / "memo.docx").stat().st_size > 10_000
