"""Numbering: once, by first citation in the memo, reused everywhere."""

from briefkit.model import Document, Meta, NoteRef, Paragraph, Text, note_label
from briefkit.notes import number_notes


def doc(*keys: str) -> Document:
    return Document(Meta("t"), tuple(Paragraph((Text("x"), NoteRef(k))) for k in keys))


BODIES = {k: (Paragraph((Text(k.upper()),)),) for k in "abcd"}


def test_first_citation_in_the_memo_numbers_every_document():
    memo, deck = number_notes(doc("b", "a", "b", "c"), (doc("c", "d", "a"),), BODIES)
    assert [b.children[1].number for b in memo.blocks] == [1, 2, 1, 3]
    assert [(e.key, e.number) for e in memo.endnotes] == [("b", 1), ("a", 2), ("c", 3)]
    # the deck keeps the memo's numbers; a note only the deck cites comes after
    assert [b.children[1].number for b in deck.blocks] == [3, 4, 2]
    assert [(e.key, e.number) for e in deck.endnotes] == [("a", 2), ("c", 3), ("d", 4)]


def test_note_labels():
    assert [note_label(n, "lower-roman") for n in (1, 4, 9, 14, 21, 26, 40)] == ["i", "iv", "ix", "xiv", "xxi", "xxvi", "xl"]
    assert note_label(26, "arabic") == "26"
