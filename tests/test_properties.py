"""Generated briefings through all three renderers: complete deliverables or a clean error."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import pypdf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pptx import Presentation

from briefkit.cli import main
from conftest import TEMPLATES, docx_endnotes

ROMAN = ["", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"]

word = st.one_of(
    st.sampled_from(["policy", "border", "trade", "río", "año", "façade", "Ångström", "cooperation"]),
    st.sampled_from(["Ciudad", "México", "“quoted”", "—", "naïve", "中文", "Ελληνικά", "عربى", "<b>", "{{ x }}",
                     "{% if %}", "a&b", "x<y", "50%", "#hash", "$807bn"]),
    st.integers(200, 2000).map(lambda n: "w" * n),  # long words
)
phrase = st.lists(word, min_size=1, max_size=8).map(" ".join)


@st.composite
def inline(draw, keys):
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "em", "strong", "code", "link", "note"]))
        text = draw(phrase)
        if kind == "em":
            text = f"*{text}*"
        elif kind == "strong":
            text = f"**{text}**"
        elif kind == "code":
            text = f"`{text}`"
        elif kind == "link":
            text = f"[{text}](https://example.org/{draw(st.integers(0, 99))})"
        elif kind == "note" and keys:
            text = text + f"[^{draw(st.sampled_from(keys))}]"
        parts.append(text)
    return " ".join(parts)


@st.composite
def body(draw, keys):
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["para", "heading", "list", "nested", "table"]))
        if kind == "heading":
            blocks.append("## " + draw(phrase))
        elif kind == "list":
            blocks.append("\n".join("- " + draw(inline(keys)) for _ in range(draw(st.integers(1, 4)))))
        elif kind == "nested":
            blocks.append(f"1. {draw(inline(keys))}\n    - {draw(inline(keys))}\n    - {draw(inline(keys))}\n2. {draw(phrase)}")
        elif kind == "table":
            blocks.append(f"| {draw(phrase)} | b |\n|---|---:|\n| {draw(inline(keys))} | 2 |")
        else:
            blocks.append(draw(inline(keys)))
    return "\n\n".join(blocks)


@st.composite
def briefing(draw):
    n_notes = draw(st.integers(1, 5))
    keys = [f"n{k}" for k in range(1, n_notes + 1)]
    summary_key = draw(st.sampled_from(keys))
    files = {
        "briefing.md": "---\nkind: briefing\ntitle: " + json.dumps(draw(phrase)) + "\nauthors: [A, B]\n"
                       + f"endnote_style: {draw(st.sampled_from(['lower-roman', 'arabic']))}\n---\n",
        "strategic-context.md": "---\nkind: section\nrole: context\ntitle: Context\n---\n" + draw(body(keys)) + "\n",
        "introduction.md": "---\nkind: section\nrole: introduction\ntitle: Intro\n---\n" + draw(body(keys)) + "\n",
        "conclusion.md": "---\nkind: section\nrole: conclusion\ntitle: End\nsummary: " + json.dumps(draw(phrase)) + "\n---\n" + draw(body(keys)) + "\n",
    }
    analysis = draw(body(keys)) + "\n\nCited:" + "".join(f" [^{k}]" for k in keys)  # every note cited at least once
    recs = "\n".join("  - " + json.dumps(draw(inline(keys))) for _ in range(draw(st.integers(1, 9))))
    summary = json.dumps(draw(inline([])) + f"[^{summary_key}]")
    defs = "\n\n".join(f"[^{k}]: NOTE{k} {draw(inline([]))}" for k in keys)
    files["pillar.md"] = (f"---\nkind: pillar\norder: 1\ntitle: {json.dumps(draw(phrase))}\nshort_title: P\n"
                          f"summary: {summary}\nrecommendations:\n{recs}\n---\n# Analysis\n\n{analysis}\n\n"
                          f"# Recommendations\n\n{draw(body(keys))}\n\n{defs}\n")
    return files


def _labels(text: str, keys) -> dict[str, str]:
    """The label printed just before each note's NOTEk marker in an endnotes listing."""
    out = {}
    for k in keys:
        m = re.search(rf"(\w+)\W*\s*NOTE{k}\b", text)
        if m:
            out[k] = m.group(1)
    return out


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(briefing())
def test_generated_briefings_build_or_fail_cleanly(files):
    tmp = Path(tempfile.mkdtemp())
    try:
        content = tmp / "content"
        content.mkdir()
        for name, text in files.items():
            (content / name).write_text(text, encoding="utf-8")
        code = main(["build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(tmp / "out"), "-q"])
        event(f"exit {code}")
        if code != 0:
            assert not (tmp / "out").exists()
            return
        out = tmp / "out"
        keys = sorted({m for m in re.findall(r"\[\^(n\d+)\]:", files["pillar.md"])})
        memo = docx_endnotes(out / "memo.docx")
        memo_number = {k: n for n, text in memo.items() for k in keys if re.search(rf"NOTE{k}\b", text)}
        assert set(memo_number) == set(keys)
        style = "arabic" if "endnote_style: arabic" in files["briefing.md"] else "lower-roman"
        label = {k: str(n) if style == "arabic" else ROMAN[n] for k, n in memo_number.items()}
        brief = "\n".join(p.extract_text() for p in pypdf.PdfReader(str(out / "brief.pdf")).pages)
        assert _labels(brief[brief.rindex("Endnotes"):], keys) == label
        deck = Presentation(str(out / "deck.pptx"))
        slides = "\n".join(sh.text_frame.text for s in deck.slides for sh in s.shapes if sh.has_text_frame)
        deck_labels = _labels(slides[slides.index("Endnotes"):], keys)
        assert deck_labels and all(label[k] == v for k, v in deck_labels.items())
        with zipfile.ZipFile(out / "memo.docx") as z:
            assert z.testzip() is None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
