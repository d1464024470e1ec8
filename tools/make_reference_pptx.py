"""Write briefkit's default slide master, src/briefkit/defaults/reference.pptx.

Run it after changing the slide geometry in render/deck_plan.py:
    .venv/bin/python tools/make_reference_pptx.py
It starts from python-pptx's own template, makes it 16:9, keeps the layouts the deck uses
(Title Slide, Section Header, Title and Content, Title Only) and Blank, and puts their title
and body placeholders where the deck plan measures text.
"""

from __future__ import annotations

from pathlib import Path

from pptx import Presentation
from pptx.enum.text import PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches

from briefkit.render.deck_plan import SLIDE_W, Box, body_box, title_box

KEEP = ("Title Slide", "Title and Content", "Section Header", "Title Only", "Blank")
TARGET = Path(__file__).resolve().parents[1] / "src" / "briefkit" / "defaults" / "reference.pptx"


def _place(shape, box: Box) -> None:
    shape.left, shape.top, shape.width, shape.height = (Inches(v) for v in (box.left, box.top, box.width, box.height))


def main() -> None:
    prs = Presentation()
    scale = Inches(SLIDE_W) / prs.slide_width
    prs.slide_width, prs.slide_height = Emu(12192000), Emu(6858000)  # 16:9, as PowerPoint sets it
    master = prs.slide_master
    for layout in list(master.slide_layouts):
        if layout.name not in KEEP:
            master.slide_layouts.remove(layout)
    for holder in (master, *master.slide_layouts):
        for shape in holder.placeholders:
            if shape._element.spPr.find(qn("a:xfrm")) is not None:
                shape.left, shape.width = Emu(int(shape.left * scale)), Emu(int(shape.width * scale))
    # the master's title style: left-aligned, like every title the deck sets
    title_style = master._element.find(qn("p:txStyles")).find(qn("p:titleStyle"))
    title_style.find(qn("a:lvl1pPr")).set("algn", "l")
    # titles as written: the section header's title is not set in capitals
    for layout in master.slide_layouts:
        for rpr in layout._element.iter(qn("a:defRPr")):
            rpr.attrib.pop("cap", None)
    for holder, kind in ((master, "content"), *((l, {"Title Slide": "title", "Section Header": "section"}.get(l.name, "content"))
                                               for l in master.slide_layouts)):
        for shape in holder.placeholders:
            if shape.placeholder_format.idx == 0:
                _place(shape, title_box(kind))
                if kind != "content":
                    shape.text_frame.paragraphs[0].alignment = PP_ALIGN.LEFT
            elif shape.placeholder_format.idx == 1 and kind == "content":
                _place(shape, body_box())
            elif shape.placeholder_format.idx == 1:
                box = title_box(kind)
                _place(shape, Box(box.left, box.top + box.height + 0.5, box.width, 1.3))
    prs.save(str(TARGET))


if __name__ == "__main__":
    main()
