"""The slide deck: python-pptx places what deck_plan measured and decided."""

from __future__ import annotations

import io

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.opc.packuri import PackURI
from lxml.etree import SubElement
from pptx.oxml.ns import qn
from pptx.oxml.text import CT_RegularTextRun
from pptx.util import Emu, Inches, Pt

from briefkit.errors import BuildError, Origin
from briefkit.model import Document
from briefkit.render.deck_plan import (BULLET_INDENT, INSET_X, INSET_Y, LINE, MARGIN_X, PARA_AFTER, SLIDE_H,
                                       SLIDE_W, Box, Measure, Para, Run, Slide, foot_box, plan_deck, runs_of, title_box)
from briefkit.stamp import build_time, fixed_zip
from briefkit.templates import DEFAULTS
from briefkit.theme import Theme

# The layouts the deck is built on, by the names PowerPoint gives them.
LAYOUTS = {"title": "Title Slide", "section": "Section Header", "content": "Title and Content",
           "endnotes": "Title and Content", "figures": "Title Only", "image": "Title Only"}


ONE_CARD_WIDTH = 7.5  # inches: a key figure alone is a large card in the middle


class _Deck:
    def __init__(self, doc: Document, theme: Theme) -> None:
        self.doc, self.theme = doc, theme
        reference = theme.templates.find("reference.pptx")
        if reference is None:
            raise BuildError("no reference.pptx among the templates; the built-in one is missing from the installation")
        # a project's own master keeps its backgrounds; the built-in one gets the theme's colours
        self.own_master = reference.parent.resolve() != DEFAULTS.resolve()
        self.prs = Presentation(str(reference))
        _drop_slides(self.prs)
        _partnames_by_counter(self.prs.part.package)
        display = theme.templates.display(reference)
        self.layouts = _layouts(self.prs, display)
        width, height = Emu(self.prs.slide_width).inches, Emu(self.prs.slide_height).inches
        if abs(width - SLIDE_W) > 0.01 or abs(height - SLIDE_H) > 0.01:
            raise BuildError(f"the reference deck's slides are {width:.3g} × {height:.3g} in; the deck is laid out "
                             f"for 16:9 slides of {SLIDE_W:.5g} × {SLIDE_H:.3g} in", Origin(display, 0))
        self.measure = Measure(theme)

    def _rgb(self, hex_: str) -> RGBColor:
        return RGBColor.from_string(hex_)

    # shapes -------------------------------------------------------------------

    def _box(self, slide, box: Box, anchor=MSO_ANCHOR.TOP, name: str = ""):
        shape = slide.shapes.add_textbox(Inches(box.left), Inches(box.top), Inches(box.width), Inches(box.height))
        if name:
            shape.name = name
        return self._frame(shape, anchor)

    def _placeholder(self, shape, box: Box, anchor=MSO_ANCHOR.TOP):
        """A placeholder set where the plan measured its text."""
        shape.left, shape.top, shape.width, shape.height = (Inches(v) for v in (box.left, box.top, box.width, box.height))
        return self._frame(shape, anchor)

    def _text_area(self, slide, placeholder, box: Box, name: str):
        """The layout's body placeholder where it has one, else a text box."""
        return self._placeholder(placeholder, box) if placeholder is not None else self._box(slide, box, name=name)

    def _frame(self, shape, anchor):
        tf = shape.text_frame
        tf.word_wrap = True
        tf.auto_size = MSO_AUTO_SIZE.NONE
        tf.margin_left = tf.margin_right = Inches(INSET_X)
        tf.margin_top = tf.margin_bottom = Inches(INSET_Y)
        tf.vertical_anchor = anchor
        return tf

    def _rect(self, slide, left, top, width, height, fill: str, name: str):
        shape = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, Inches(left), Inches(top), Inches(width), Inches(height))
        shape.name = name
        shape.fill.solid()
        shape.fill.fore_color.rgb = self._rgb(fill)
        shape.line.fill.background()
        shape.shadow.inherit = False
        if name.startswith("Decoration"):
            _mark_decorative(shape)
        return shape

    def _paragraphs(self, tf, paras: tuple[Para, ...], size: float, colour: str, after: bool = True,
                    align: str = "l") -> None:
        """The paragraphs' XML written directly (python-pptx's setters cost hundreds of calls a slide)."""
        body = tf._txBody
        first = body.find(qn("a:p"))
        spacing = (Pt(size * LINE).centipoints, 0, Pt(size * PARA_AFTER if after else 0).centipoints)
        colour = str(self._rgb(colour))
        for i, para in enumerate(paras):
            p = first if i == 0 and first is not None else SubElement(body, qn("a:p"))
            ppr = p.get_or_add_pPr()
            ppr.set("algn", align)  # always set: a placeholder's own may centre
            for tag, points in zip(("a:lnSpc", "a:spcBef", "a:spcAft"), spacing):
                SubElement(SubElement(ppr, qn(tag)), qn("a:spcPts"), val=str(points))
            self._bullet(p, para)
            for run in para.runs:
                self._run(tf.part, p, run, size, colour)

    def _bullet(self, p, para: Para) -> None:
        """Indent and bullet set on every paragraph: a placeholder would otherwise inherit the master's."""
        ppr = p.get_or_add_pPr()
        ppr.set("marL", str(int(Inches(para.level * BULLET_INDENT))))
        ppr.set("indent", str(-int(Inches(BULLET_INDENT * 0.8)) if para.level else 0))
        if not para.bullet:
            SubElement(ppr, qn("a:buNone"))
            return
        SubElement(SubElement(ppr, qn("a:buClr")), qn("a:srgbClr"), val=self.theme.colour.accent)
        SubElement(ppr, qn("a:buFont"), typeface=self.theme.font.name)
        if para.bullet == "•":
            SubElement(ppr, qn("a:buChar"), char="•")
        else:
            SubElement(ppr, qn("a:buAutoNum"), type="arabicPeriod", startAt=para.bullet.rstrip("."))

    def _run(self, part, p, run: Run, size: float, colour: str) -> None:
        r = SubElement(p, qn("a:r"))
        # a superscript's baseline shift also shrinks it, in PowerPoint and LibreOffice
        rpr = SubElement(r, qn("a:rPr"), sz=str(Pt(size).centipoints), b="1" if run.bold else "0",
                         i="1" if run.italic else "0")
        if run.superscript:
            rpr.set("baseline", "30000")
        fill = SubElement(rpr, qn("a:solidFill"))
        SubElement(fill, qn("a:srgbClr"), val=str(self._rgb(self.theme.colour.link)) if run.url else colour)
        SubElement(rpr, qn("a:latin"), typeface=self.theme.font.mono if run.code else self.theme.font.name)
        if run.url:
            SubElement(rpr, qn("a:hlinkClick"), {qn("r:id"): part.relate_to(run.url, RT.HYPERLINK, is_external=True)})
        SubElement(r, qn("a:t")).text = CT_RegularTextRun._escape_ctrl_chars(run.text.replace("\n", "\v"))

    def _title(self, slide, s: Slide, colour: str) -> None:
        box = title_box(s.kind)
        tf = self._placeholder(slide.shapes.title, box, MSO_ANCHOR.BOTTOM if s.kind in ("title", "section") else MSO_ANCHOR.MIDDLE)
        self._paragraphs(tf, (Para((Run(s.title, bold=True),)),), s.title_size, colour, after=False)

    def _furniture(self, slide, number: int) -> None:
        t = self.theme
        self._rect(slide, MARGIN_X + INSET_X, 1.42, 1.1, 0.06, t.colour.accent, "Decoration: accent rule")
        for text, left, width, align, name in ((self.doc.meta.short_title, MARGIN_X, 6.0, "l", "Footer"),
                                               (str(number), SLIDE_W - MARGIN_X - 1.5, 1.5, "r", "Slide number")):
            tf = self._box(slide, Box(left, 6.95, width, 0.35), name=name)
            self._paragraphs(tf, (Para((Run(text),)),), 10, t.colour.muted, after=False, align=align)

    # slides -------------------------------------------------------------------

    def slide(self, s: Slide, number: int) -> None:
        t = self.theme
        slide = self.prs.slides.add_slide(self.layouts[LAYOUTS[s.kind]])
        band = s.kind in ("title", "section") and not self.own_master
        if band:
            slide.background.fill.solid()
            slide.background.fill.fore_color.rgb = self._rgb(t.colour.primary)
        body = _body_placeholder(slide)
        match s.kind:
            case "title":
                self._title(slide, s, "FFFFFF" if band else t.colour.primary)
                self._rect(slide, 0.9 + INSET_X, 4.05, 2.0, 0.08, t.colour.accent, "Decoration: accent rule")
                m = self.doc.meta
                lines = [Para((Run(x, bold=i == 0),)) for i, x in enumerate(s.subtitle.split("\n")) if x]
                tf = self._text_area(slide, body, Box(0.9, 4.3, SLIDE_W - 1.8, 1.3), "Subtitle")
                self._paragraphs(tf, tuple(lines), 18, "FFFFFF" if band else t.colour.text, after=False)
                byline = [Para((Run("; ".join(m.authors)),))]
                if m.supervisor:
                    byline.insert(0, Para((Run(f"{t.labels.supervised_by} {m.supervisor}"),)))
                tf = self._box(slide, Box(0.9, 5.7, SLIDE_W - 1.8, 1.2), name="Byline")
                self._paragraphs(tf, tuple(byline), 14, "D9E2EC" if band else t.colour.muted, after=False)
                body = None
            case "section":
                self._rect(slide, 0.9 + INSET_X, 4.55, 1.6, 0.08, t.colour.accent, "Decoration: accent rule")
                self._title(slide, s, "FFFFFF" if band else t.colour.primary)
            case "figures":
                self._title(slide, s, t.colour.primary)
                self._figures(slide, s)
            case "image":
                self._title(slide, s, t.colour.primary)
                self._image(slide, s)
            case _:
                self._title(slide, s, t.colour.primary)
                self._paragraphs(self._text_area(slide, body, s.body, "Text"), s.paras, s.size, t.colour.text)
                body = None
        if body is not None:  # a layout's body placeholder the slide does not use
            body._element.getparent().remove(body._element)
        if s.sources:
            tf = self._box(slide, foot_box(s), MSO_ANCHOR.BOTTOM, name="Sources")
            self._paragraphs(tf, s.sources, t.deck.source_size, t.colour.muted, after=False)
        if s.kind not in ("title", "section"):  # last, so a screen reader reads title, text, sources, then these
            self._furniture(slide, number)
        self._paragraphs(slide.notes_slide.notes_text_frame, s.notes, t.deck.notes_size, t.colour.text, after=False)

    def _figures(self, slide, s: Slide) -> None:
        """One, two or three cards filling the body; one card alone is large and centred.

        The cards share one value size and one label size, and their values sit on one line."""
        t, gap, n = self.theme, 0.35, len(s.figures)
        width = min(s.body.width, ONE_CARD_WIDTH) if n == 1 else (s.body.width - gap * (n - 1)) / n
        top, height = s.body.top + 0.1, s.body.height - 0.2
        inner_w, inner_h = width - 0.4, height - 0.5
        style = self.doc.meta.endnote_style
        values = [runs_of(fig.value, style, bold=True) for fig in s.figures]
        labels = [(Para(runs_of(fig.label, style, bold=True)),) + ((Para(runs_of(fig.note, style)),) if fig.note else ())
                  for fig in s.figures]
        size = t.deck.figure_size * (1.25 if n == 1 else 1)
        while size > t.deck.min_body_size and any(self.measure.lines(v, size, (inner_w - 2 * INSET_X) * 72) > 1 for v in values):
            size -= 4
        value_h = size * LINE / 72 + 2 * INSET_Y
        room = Box(0, 0, inner_w, inner_h - value_h - 0.1)
        label_size = t.deck.body_size + (2 if n == 1 else -2)
        while label_size > t.deck.min_body_size and not all(self.measure.fits(p, label_size, room) for p in labels):
            label_size -= 1
        text_h = max(sum(self.measure.para_height(p, label_size, inner_w) for p in paras) + 2 * INSET_Y for paras in labels)
        shift = max(0.0, (room.height - text_h) / 2)  # the tallest value-and-label group centred in the card
        for i, (value, paras) in enumerate(zip(values, labels)):
            left = s.body.left + (s.body.width - width) / 2 if n == 1 else s.body.left + i * (width + gap)
            self._rect(slide, left, top, width, height, t.colour.callout_fill, "Decoration: card")
            self._rect(slide, left, top, width, 0.07, t.colour.accent, "Decoration: card rule")
            value_box = Box(left + 0.2, top + 0.3 + shift, inner_w, value_h)
            self._paragraphs(self._box(slide, value_box, name="Figure value"), (Para(value),), size, t.colour.accent, after=False)
            text_top = value_box.top + value_h + 0.1
            text = Box(value_box.left, text_top, inner_w, top + 0.3 + inner_h - text_top)
            self._paragraphs(self._box(slide, text, name="Figure label"), paras, label_size, t.colour.primary)

    def _image(self, slide, s: Slide) -> None:
        from PIL import Image as PILImage

        with PILImage.open(s.image) as im:
            w, h = im.size
        scale = min(s.body.width / w, s.body.height / h)
        width, height = w * scale, h * scale
        picture = slide.shapes.add_picture(s.image, Inches(s.body.left + (s.body.width - width) / 2),
                                           Inches(s.body.top), Inches(width), Inches(height))
        picture._element._nvXxPr.cNvPr.set("descr", s.alt)

    def render(self) -> bytes:
        m, cp = self.doc.meta, self.prs.core_properties
        # Office limits these properties to 255 characters
        cp.title, cp.subject, cp.author = m.title[:255], m.subject[:255], "; ".join(m.authors)[:255]
        cp.keywords, cp.language = ", ".join(m.keywords)[:255], m.language[:255]
        cp.last_modified_by = (m.organization or "briefkit")[:255]
        cp.created = cp.modified = build_time(m).replace(tzinfo=None)
        cp.revision = 1
        for number, s in enumerate(plan_deck(self.doc, self.theme), 1):
            self.slide(s, number)
        buf = io.BytesIO()
        self.prs.save(buf)
        return fixed_zip(buf.getvalue(), build_time(self.doc.meta))


def render_deck(doc: Document, theme: Theme) -> bytes:
    return _Deck(doc, theme).render()


def _drop_slides(prs) -> None:
    ids = prs.slides._sldIdLst
    for sld in list(ids):
        prs.part.drop_rel(sld.get(qn("r:id")))
        ids.remove(sld)


def _partnames_by_counter(package) -> None:
    """Hand out part names as python-pptx does (the highest free number up to one past the count),
    from a set kept per name pattern, instead of walking every part of the package for each new
    slide and notes page, which is quadratic in the number of slides."""
    used: dict[str, set[str]] = {}

    def next_partname(tmpl: str) -> PackURI:
        if tmpl not in used:
            prefix = tmpl[: (tmpl % 42).find("42")]
            used[tmpl] = {p.partname for p in package.iter_parts() if p.partname.startswith(prefix)}
        names = used[tmpl]
        name = next(tmpl % n for n in range(len(names) + 1, 0, -1) if tmpl % n not in names)
        names.add(name)
        return PackURI(name)

    package.next_partname = next_partname


def _layouts(prs, display: str) -> dict:
    """The master's layouts the deck uses, by name; one missing or without a title is an error."""
    found = {layout.name: layout for layout in prs.slide_layouts}
    for name in dict.fromkeys(LAYOUTS.values()):
        if name not in found:
            raise BuildError(f"the reference deck has no '{name}' layout (it has: {', '.join(found) or 'none'}); "
                             f"the deck uses {', '.join(dict.fromkeys(LAYOUTS.values()))}", Origin(display, 0))
        if not any(ph.placeholder_format.idx == 0 for ph in found[name].placeholders):
            raise BuildError(f"the reference deck's '{name}' layout has no title placeholder", Origin(display, 0))
    return found


def _body_placeholder(slide):
    """The slide's first placeholder other than its title (body, subtitle), or None."""
    return next((ph for ph in slide.placeholders if ph.placeholder_format.idx != 0), None)


DECORATIVE_EXT = "{C183D7F6-B498-43B3-948B-1728B52AA6E4}"
DECORATIVE_NS = "http://schemas.microsoft.com/office/drawing/2017/decorative"


def _mark_decorative(shape) -> None:
    """Office's "Mark as decorative": screen readers skip the shape."""
    cnvpr = shape._element._nvXxPr.cNvPr
    ext_lst = SubElement(cnvpr, qn("a:extLst"))
    ext = SubElement(ext_lst, qn("a:ext"), uri=DECORATIVE_EXT)
    SubElement(ext, f"{{{DECORATIVE_NS}}}decorative", {"val": "1"}, nsmap={"adec": DECORATIVE_NS})
