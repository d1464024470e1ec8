"""The real content, mutated: every build succeeds with valid deliverables or fails cleanly.

Each case flips bytes, deletes or duplicates lines, or inserts random Unicode (control
characters included), lone surrogates written as bytes, very long lines and long runs of
Markdown's own marks. Whatever happens: exit 0 with deliverables every reader opens, or exit 1
with one `path:line: error: ...` line per problem, no traceback, no internal error, and the
previous deliverables byte-identical. About a minute by default, the same 500 cases each run; `FUZZ=long`
draws far more, new ones each time.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shutil
import signal
import tempfile
import zipfile
from pathlib import Path

import pypdf
from docx import Document as DocxDocument
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pptx import Presentation

from briefkit.cli import main
from conftest import CONTENT, TEMPLATES

LONG = os.environ.get("FUZZ") == "long"
SECONDS_PER_CASE = 60  # a case still running after this counts as a hang
FILES = sorted(p.name for p in CONTENT.glob("*.md"))
NAMES = ("brief.pdf", "deck.pptx", "memo.docx")
FINDING = re.compile(r"^(\S+(:\d+)?: )?(error|warning): \S.*$")

MARKS = ["*", "_", "**", "[", "]", "(", ")", "`", "```", "> ", "- ", "1. ", "    ", "\t", "|", "# ", "![a](", "[^",
         "\\", "{{", "{%", "<b>", "&amp;", "https://example.org/", "---", ": ", "&", "!!! note", "x", "word ", "\n"]
CONTROL = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, 0x0D, *range(0x0E, 0x20), 0x7F, 0x85, 0xFFFE, 0xFFFF)]
insertion = st.one_of(
    st.text(max_size=30),  # any code point but surrogates, control characters among them
    st.sampled_from(CONTROL),
    st.builds(lambda mark, n: mark * n, st.sampled_from(MARKS), st.integers(1, 30)),
    st.builds(lambda mark, n: mark * n, st.sampled_from(MARKS), st.integers(1_000, 60_000)),  # long lines, tokens
)
mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("delete lines"), st.floats(0, 1), st.integers(1, 5)),
    st.tuples(st.just("duplicate line"), st.floats(0, 1), st.integers(1, 60)),
    st.tuples(st.just("insert"), st.floats(0, 1), insertion),
    st.tuples(st.just("surrogate bytes"), st.floats(0, 1), st.sampled_from([b"\xed\xa0\x80", b"\xed\xbf\xbf"])),
)


def mutate(data: bytes, kind: str, where: float, arg) -> bytes:
    at = int(where * len(data))
    if kind == "flip":
        return data[:at] + bytes([arg]) + data[at + 1:]
    if kind == "surrogate bytes":
        return data[:at] + arg + data[at:]
    if kind == "insert":
        return data[:at] + arg.encode("utf-8") + data[at:]
    lines = data.split(b"\n")
    i = min(int(where * len(lines)), len(lines) - 1)
    if kind == "delete lines":
        return b"\n".join(lines[:i] + lines[i + arg:])
    return b"\n".join(lines[:i] + [lines[i]] * arg + lines[i:])  # duplicate line


@functools.cache
def previous() -> dict[str, bytes]:
    """Deliverables of the real content: what a failed build must leave untouched."""
    with tempfile.TemporaryDirectory() as out:
        assert main(["build", "--content", str(CONTENT), "--templates", str(TEMPLATES), "--out", out, "-q"]) == 0
        return {name: (Path(out) / name).read_bytes() for name in NAMES}


def _hang(signum, frame):
    raise TimeoutError(f"a build ran past {SECONDS_PER_CASE} s")


# `make test` runs the same 500 cases every time (a failure there is a change's, not the dice's);
# FUZZ=long draws new ones to explore.
@settings(max_examples=10_000 if LONG else 500, deadline=None, database=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(changes=st.lists(st.tuples(st.sampled_from(FILES), mutation), min_size=1, max_size=3))
def test_mutated_content_builds_or_fails_cleanly(changes):
    tmp = Path(tempfile.mkdtemp())
    try:
        content, out = tmp / "content", tmp / "out"
        shutil.copytree(CONTENT, content)
        for name, (kind, where, arg) in changes:
            path = content / name
            path.write_bytes(mutate(path.read_bytes(), kind, where, arg))
        out.mkdir()
        for name, data in previous().items():
            (out / name).write_bytes(data)
        err, old = io.StringIO(), signal.signal(signal.SIGALRM, _hang)
        signal.alarm(SECONDS_PER_CASE)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(["build", "--content", str(content), "--templates", str(TEMPLATES), "--out", str(out), "-q"])
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        lines = err.getvalue().splitlines()
        event(f"exit {code}")
        assert "Traceback" not in err.getvalue() and "failed unexpectedly" not in err.getvalue(), err.getvalue()
        assert all(FINDING.match(line) for line in lines), err.getvalue()
        assert len(lines) == len(set(lines)), err.getvalue()  # one line per problem
        if code == 1:
            assert any(": error: " in f" {line}" for line in lines), err.getvalue()
            assert {p.name: p.read_bytes() for p in out.iterdir()} == previous()
            return
        assert code == 0, err.getvalue()
        assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)
        assert len(pypdf.PdfReader(str(out / "brief.pdf")).pages) > 1
        assert DocxDocument(str(out / "memo.docx")).paragraphs
        assert len(Presentation(str(out / "deck.pptx")).slides) > 1
        for name in ("memo.docx", "deck.pptx"):
            with zipfile.ZipFile(out / name) as z:
                assert z.testzip() is None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
