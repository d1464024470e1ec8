"""Endnote numbering: once, for the whole briefing, by first citation in the text.

A note may cite another note that the text cites too ("see note [^x]"); loading refuses a note
cited only inside notes, since Word numbers endnotes by their citations in the text.
"""

from __future__ import annotations

from dataclasses import replace

from briefkit.model import (Block, BulletList, Callout, Document, Emph, Endnote, Heading, Inline,
                            Link, NoteRef, OrderedList, Paragraph, Quote, Strong, Table, note_refs)


def note_numbers(primary: Document, *others: Document) -> dict[str, int]:
    """Key -> number: first citation in `primary` (the memo) wins, then the others in order."""
    numbers: dict[str, int] = {}
    for doc in (primary, *others):
        for ref in note_refs(doc.blocks):
            numbers.setdefault(ref.key, len(numbers) + 1)
    return numbers


def apply_numbers(doc: Document, numbers: dict[str, int], bodies: dict[str, tuple[Block, ...]]) -> Document:
    """Set every NoteRef's number and list the endnotes this document cites."""
    blocks = tuple(_number_block(b, numbers) for b in doc.blocks)
    cited, todo = set(), [ref.key for ref in note_refs(blocks)]
    while todo:  # a cited note brings in the notes it cites
        key = todo.pop()
        if key not in cited:
            cited.add(key)
            todo += [ref.key for ref in note_refs(bodies[key])]
    endnotes = tuple(Endnote(key, numbers[key], tuple(_number_block(b, numbers) for b in bodies[key]))
                     for key in sorted(cited, key=numbers.__getitem__))
    return replace(doc, blocks=blocks, endnotes=endnotes)


def number_notes(primary: Document, others: tuple[Document, ...], bodies: dict[str, tuple[Block, ...]]) -> tuple[Document, ...]:
    numbers = note_numbers(primary, *others)
    return tuple(apply_numbers(d, numbers, bodies) for d in (primary, *others))


def _number_inlines(inlines: tuple[Inline, ...], numbers: dict[str, int]) -> tuple[Inline, ...]:
    out = []
    for node in inlines:
        match node:
            case NoteRef(key):
                out.append(NoteRef(key, numbers[key]))
            case Emph() | Strong() | Link():
                out.append(replace(node, children=_number_inlines(node.children, numbers)))
            case _:
                out.append(node)
    return tuple(out)


def _number_block(block: Block, numbers: dict[str, int]) -> Block:
    match block:
        case Heading() | Paragraph():
            return replace(block, children=_number_inlines(block.children, numbers))
        case BulletList(items) | OrderedList(items):
            return replace(block, items=tuple(tuple(_number_block(b, numbers) for b in item) for item in items))
        case Quote(blocks) | Callout(blocks=blocks):
            return replace(block, blocks=tuple(_number_block(b, numbers) for b in blocks))
        case Table(header, rows):
            return replace(block, header=tuple(_number_inlines(c, numbers) for c in header),
                           rows=tuple(tuple(_number_inlines(c, numbers) for c in row) for row in rows))
    return block

