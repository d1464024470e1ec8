"""Shared fixtures: the real briefing built once, a hand-built document, readers."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from briefkit.templates import DEFAULTS, Templates
from briefkit.model import (BulletList, Callout, Code, CodeBlock, Document, Emph, Endnote, Heading, LineBreak,
                            Link, Meta, NoteRef, OrderedList, Paragraph, Quote, Rule, Strong, Table, Text)

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
TEMPLATES = DEFAULTS  # the built-in templates, theme and fonts
SEED = Path(__file__).parent / "fixtures" / "mexico-memo-export.txt"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """The real content built into a fresh folder, all three formats."""
    from briefkit.cli import main

    out = tmp_path_factory.mktemp("build")
    assert main(["build", "--content", str(CONTENT), "--templates", str(TEMPLATES), "--out", str(out), "-q"]) == 0
    return out


@pytest.fixture
def content_copy(tmp_path) -> Path:
    """A writable copy of the real content folder."""
    dest = tmp_path / "content"
    shutil.copytree(CONTENT, dest)
    return dest


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


needs_libreoffice = pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")


def pdf_renderer_raising(monkeypatch, error: Exception) -> None:
    """The PDF renderer fails with `error` on any document; the other renderers are untouched."""
    from briefkit import build as pipeline

    real = pipeline.renderer

    def renderer(fmt):
        if fmt != "pdf":
            return real(fmt)

        def fail(doc, theme):
            raise error
        return fail

    monkeypatch.setattr(pipeline, "renderer", renderer)


def libreoffice_pdf(path: Path, tmp: Path):
    """Open an Office file with LibreOffice, as a reader would, and return its PDF export read by pypdf."""
    import pypdf

    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp}/lo", "--convert-to", "pdf",
                    "--outdir", str(tmp), str(path)], check=True, capture_output=True, timeout=180)
    return pypdf.PdfReader(str(tmp / (path.stem + ".pdf")))


def docx_paragraphs(path: Path, part: str = "word/document.xml") -> list[tuple[str, str]]:
    """(style id, text) of every paragraph in a part of a .docx, read with zipfile + ElementTree."""
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read(part))
    out = []
    for p in root.iter(W + "p"):
        style = p.find(f"{W}pPr/{W}pStyle")
        text = "".join(t.text or "" for t in p.iter(W + "t"))
        out.append((style.get(W + "val") if style is not None else "", text))
    return out


def docx_endnotes(path: Path) -> dict[int, str]:
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("word/endnotes.xml"))
    notes = {}
    for en in root.iter(W + "endnote"):
        if en.get(W + "type") is None:
            notes[int(en.get(W + "id"))] = "".join(t.text or "" for t in en.iter(W + "t")).strip()
    return notes


def seed_text() -> str:
    """The memo's original export, without its note markers."""
    text = SEED.read_text(encoding="utf-8")
    text = re.sub(r"\^\{[ivx]+\}", "", text)
    return re.sub(r"[ⁱᵛˣ]+", "", text).replace("\\$", "$")


def shingles(text: str, n: int = 6) -> set[tuple[str, ...]]:
    words = re.findall(r"[0-9A-Za-zÀ-ÿ]+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def coverage(source: str, output: str) -> float:
    want = shingles(source)
    return len(want & shingles(output)) / len(want)


def every_node_document(style: str = "lower-roman") -> Document:
    """A hand-built document holding every block and inline type, with two notes."""
    para = Paragraph((Text("Plain "), Emph((Text("emphasis"),)), Text(" "), Strong((Text("strong"),)), Text(" "),
                      Code("code()"), Text(" "), Link((Text("a link"),), "https://example.org/"), LineBreak(),
                      Text("after break"), NoteRef("alpha", 1), Text(" and <b>{{ literal }}</b> & more"),
                      NoteRef("beta", 2), Text(" again"), NoteRef("alpha", 1)))
    blocks = (
        Heading(1, (Text("Section One"),)),
        para,
        Heading(2, (Text("Sub Section"),)),
        BulletList(((Paragraph((Text("bullet one"),)),),
                    (Paragraph((Text("bullet two"),)), BulletList(((Paragraph((Text("nested bullet"),)),),))))),
        OrderedList(((Paragraph((Text("first step"),)),), (Paragraph((Text("second step"),)),)), start=3),
        Quote((Paragraph((Text("A quoted line."),)),)),
        CodeBlock("if a < b:\n    print('x')"),
        Table(((Text("Name"),), (Text("Value"),)), (((Text("rows"),), (Text("2"),)), ((Text("cols"),), (Text("2"),))),
              ("left", "right")),
        Callout("recommendations", "Key Recommendations:", (BulletList(((Paragraph((Text("Do the first thing."),)),),
                                                                         (Paragraph((Text("Do the second thing."),)),))),)),
        Callout("figures", "Key figures", (Table(((Text("Figure"),), (Text("Measure"),), (Text("Note"),)),
                                                 (((Text("$1bn"),), (Text("invested"),), (Text("in 2024"),)),), ()),)),
        Rule(),
        Heading(3, (Text("Third Level"),)),
        Paragraph((Text("Closing paragraph."),)),
    )
    endnotes = (
        Endnote("alpha", 1, (Paragraph((Text("Alpha source, "), Link((Text("example.org/alpha"),), "https://example.org/alpha"))),)),
        Endnote("beta", 2, (Paragraph((Emph((Text("Beta"),)), Text(" source."))),)),
    )
    meta = Meta(title="Every Node", short_title="Nodes", organization="Test Lab", term="Spring 2026",
                supervisor="Dr. Test", authors=("A. Author", "B. Author"), subject="Testing",
                keywords=("one", "two"), endnote_style=style)
    return Document(meta, blocks, endnotes)
