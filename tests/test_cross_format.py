"""Memo, brief and deck print the same endnote numbers with the same texts."""

from __future__ import annotations

import re

import pypdf
from pptx import Presentation

from conftest import docx_endnotes

ROMAN = "i ii iii iv v vi vii viii ix x xi xii xiii xiv xv xvi xvii xviii xix xx xxi xxii xxiii xxiv xxv xxvi".split()


def _squash(text: str) -> str:
    """Without spaces, nor the zero width spaces where memo and deck may break a long address."""
    return re.sub(r"[\s\u200b]+", "", text)


def test_same_numbers_and_texts_in_every_format(built):
    memo = docx_endnotes(built / "memo.docx")
    brief = "\n".join(p.extract_text() for p in pypdf.PdfReader(str(built / "brief.pdf")).pages)
    brief_notes = _squash(brief[brief.rindex("Endnotes"):])
    deck = Presentation(str(built / "deck.pptx"))
    deck_notes = [p.text for s in deck.slides for sh in s.shapes if sh.has_text_frame
                  for p in sh.text_frame.paragraphs if "\u2002" in p.text]
    assert len(memo) == 26
    for number, text in memo.items():
        assert _squash(ROMAN[number - 1] + text) in brief_notes, number
    assert len(deck_notes) == 4
    for line in deck_notes:
        label, text = line.split("\u2002", 1)
        assert memo[ROMAN.index(label) + 1] == text
