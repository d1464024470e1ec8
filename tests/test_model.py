"""Plain text of blocks, shared by every renderer's endnotes and speaker notes."""

from __future__ import annotations

import io
from dataclasses import replace

import pypdf

from briefkit.templates import Templates
from briefkit.model import BulletList, Endnote, Paragraph, Quote, Strong, Table, Text, block_text
from briefkit.render.brief_pdf import render_brief
from briefkit.render.memo_docx import render_memo
from briefkit.theme import load_theme
from conftest import TEMPLATES, docx_endnotes, every_node_document

QUOTED = Quote((Paragraph((Text("Quoted source line."),)),))
TABLE = Table(((Text("Year"),), (Text("Seizures"),)), (((Text("2024"),), (Text("812"),)),), ())


def test_block_text_keeps_every_kind_of_block():
    items = BulletList(((Paragraph((Strong((Text("one"),)),)),), (Paragraph((Text("two"),)),)))
    assert block_text(items) == "• one\n• two"
    assert block_text(QUOTED) == "Quoted source line."
    assert block_text(TABLE) == "Year · Seizures\n2024 · 812"


def test_endnote_with_quote_and_table_loses_nothing(tmp_path):
    doc = every_node_document()
    note = Endnote("beta", 2, (Paragraph((Text("Beta source."),)), QUOTED, TABLE))
    doc = replace(doc, endnotes=(doc.endnotes[0], note))
    theme = load_theme(Templates.of(TEMPLATES))
    (tmp_path / "m.docx").write_bytes(render_memo(doc, theme))
    memo = docx_endnotes(tmp_path / "m.docx")[2]
    brief = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_brief(doc, theme))).pages)
    for text in (memo, " ".join(brief.split())):
        assert "Quoted source line." in text and "2024 · 812" in text
