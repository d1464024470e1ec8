"""The slide deck: python-pptx places what deck_plan measured and decided.

python-pptx owns the package (parts, relationships, saving). Each kind of shape is made once
(per process, theme and reference deck) through python-pptx's own API as a prototype; a slide
copies its layout's prototype and the shapes' prototypes and writes the plan's positions and
text into the copies, which costs a fraction of python-pptx's per-shape placeholder cloning and
property setters."""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from xml.sax.saxutils import escape

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE
from pptx.opc.constants import CONTENT_TYPE as CT, RELATIONSHIP_TYPE as RT
from pptx.opc.oxml import serialize_part_xml
from pptx.opc.packuri import CONTENT_TYPES_URI, PACKAGE_URI, PackURI
from pptx.opc.serialized import _ContentTypesItem
from lxml.etree import SubElement, fromstring
from pptx.oxml.ns import nsdecls, qn
from pptx.oxml.slide import CT_NotesSlide, CT_Slide
from pptx.oxml.text import CT_RegularTextRun
from pptx.parts.slide import NotesSlidePart, SlidePart
from pptx.slide import NotesSlide, Slide as PptxSlide
from pptx.util import Emu, Inches, Pt

from briefkit.errors import BuildError, Origin
from briefkit.kept import keep
from briefkit.model import Document
from briefkit.render.deck_plan import (BULLET_INDENT, INSET_X, INSET_Y, LINE, MARGIN_X, PARA_AFTER, SLIDE_H,
                                       SLIDE_W, Box, Measure, Para, Run, Slide, foot_box, plan_deck, runs_of, title_box)
from briefkit.stamp import PackageFiles, build_time, stamped_zip
from briefkit.templates import DEFAULTS
from briefkit.theme import Theme

# The layouts the deck is built on, by the names PowerPoint gives them.
LAYOUTS = {"title": "Title Slide", "section": "Section Header", "content": "Title and Content",
           "endnotes": "Title and Content", "figures": "Title Only", "image": "Title Only"}
# The kinds whose text goes in the layout's body placeholder, where it has one.
BODY_KINDS = ("title", "content", "endnotes")

ONE_CARD_WIDTH = 7.5  # inches: a key figure alone is a large card in the middle

A_P, A_T, A_OFF, A_EXT = qn("a:p"), qn("a:t"), qn("a:off"), qn("a:ext")
SHAPE_XFRM = f"{qn('p:spPr')}/{qn('a:xfrm')}"
P_SLDID, R_ID, TXBODY = qn("p:sldId"), qn("r:id"), qn("p:txBody")
TEXT_NAMESPACES = nsdecls("a", "r")
MIN_SLIDE_ID = 256  # the lowest slide id PowerPoint allows


class _SlideXml:
    """One slide's shape tree being written, with the part its hyperlinks relate from."""

    def __init__(self, element, part, last_id: int) -> None:
        self.tree = element.cSld.spTree
        self.part = part
        self.last_id = last_id

    def add(self, prototype, name: str, box: Box):
        """A copy of a prototype shape, named and placed, with the next shape id."""
        sp = deepcopy(prototype)
        self.last_id += 1
        cnvpr = sp[0][0]
        cnvpr.set("id", str(self.last_id))
        cnvpr.set("name", name)
        _place(sp, box)
        self.tree.append(sp)
        return sp


def _attr(value: str) -> str:
    """A quoted attribute value as XML source, its whitespace kept as characters (a parser folds it)."""
    return '"' + escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}) + '"'


def _place(sp, box: Box) -> None:
    """The shape's offset and extent, in the attributes its prototype already has."""
    xfrm = sp.find(SHAPE_XFRM)
    off, ext = xfrm.find(A_OFF), xfrm.find(A_EXT)
    off.set("x", str(Inches(box.left)))
    off.set("y", str(Inches(box.top)))
    ext.set("cx", str(Inches(box.width)))
    ext.set("cy", str(Inches(box.height)))


class _Prototypes:
    """The slides and shapes a deck is copied from, made once per process, theme and reference
    deck (`watch` renders many decks): each is read only, through a deep copy. With them, the
    slides written: a slide planned and numbered as one written before is that one's XML."""

    def __init__(self) -> None:
        self.slides: dict[str, tuple] = {}
        self.shapes: dict[tuple, object] = {}
        self.notes: tuple | None = None
        # (slide, number, briefing details, measure): (slide XML, notes XML, the slide's hyperlinks)
        self.written: dict[tuple, tuple[bytes, bytes, tuple[str, ...]]] = {}

    def keep(self, key: tuple, written: tuple[bytes, bytes, tuple[str, ...]]) -> None:
        """A slide as written, for the next deck with the same slide at the same number."""
        keep(self.written, key, written, MAX_WRITTEN_SLIDES)

    @classmethod
    def of(cls, theme: Theme, reference: Path) -> _Prototypes:
        stat = reference.stat()
        key = (theme, reference, stat.st_mtime_ns, stat.st_size)
        if key not in _PROTOTYPES:
            keep(_PROTOTYPES, key, cls(), 1)
        return _PROTOTYPES[key]


_PROTOTYPES: dict[tuple, _Prototypes] = {}
MAX_WRITTEN_SLIDES = 5_000  # slides (with their notes pages) a process keeps as written


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
        self.package = self.prs.part.package
        _partnames_by_counter(self.package)
        display = theme.templates.display(reference)
        self.layouts = _layouts(self.prs, display)
        width, height = Emu(self.prs.slide_width).inches, Emu(self.prs.slide_height).inches
        if abs(width - SLIDE_W) > 0.01 or abs(height - SLIDE_H) > 0.01:
            raise BuildError(f"the reference deck's slides are {width:.3g} × {height:.3g} in; the deck is laid out "
                             f"for 16:9 slides of {SLIDE_W:.5g} × {SLIDE_H:.3g} in", Origin(display, 0))
        self.measure = Measure.of(theme)
        self.slide_ids = self.prs.slides._sldIdLst
        self.slides = 0
        self.colours: dict[str, str] = {}
        self.prototypes = _Prototypes.of(theme, reference)
        t = theme
        self.bullet_xml = (f'<a:buClr><a:srgbClr val={_attr(t.colour.accent)}/></a:buClr>'
                           f'<a:buFont typeface={_attr(t.font.name)}/>')
        self.fonts_xml = {False: f'<a:latin typeface={_attr(t.font.name)}/>',
                          True: f'<a:latin typeface={_attr(t.font.mono)}/>'}

    def _rgb(self, hex_: str) -> str:
        """A colour as python-pptx writes it."""
        if hex_ not in self.colours:
            self.colours[hex_] = str(RGBColor.from_string(hex_))
        return self.colours[hex_]

    # prototypes, each made once through python-pptx's API -----------------------

    def _slide_prototype(self, kind: str) -> tuple:
        """(slide element, its highest shape id, index of its title, index of its body or None) for
        a slide of this kind: the layout's placeholders cloned, the title placed and framed, the body framed."""
        if kind not in self.prototypes.slides:
            t = self.theme
            slide = PptxSlide(CT_Slide.new(), None)
            slide.shapes.clone_layout_placeholders(self.layouts[LAYOUTS[kind]])
            if kind in ("title", "section") and not self.own_master:
                slide.background.fill.solid()
                slide.background.fill.fore_color.rgb = RGBColor.from_string(t.colour.primary)
            title = slide.shapes.title
            anchor = MSO_ANCHOR.BOTTOM if kind in ("title", "section") else MSO_ANCHOR.MIDDLE
            self._placeholder(title, title_box(kind), anchor)
            body = _body_placeholder(slide)
            if body is not None and kind in BODY_KINDS:
                self._placeholder(body, Box(0, 0, 0, 0))
            shapes = list(slide.shapes._spTree.iter_shape_elms())
            index = shapes.index
            self.prototypes.slides[kind] = (slide.element, slide.shapes._spTree.max_shape_id, index(title.element),
                                            None if body is None else index(body.element))
        return self.prototypes.slides[kind]

    def _text_box(self, anchor=MSO_ANCHOR.TOP):
        key = ("text box", anchor)
        if key not in self.prototypes.shapes:
            shape = PptxSlide(CT_Slide.new(), None).shapes.add_textbox(0, 0, 0, 0)
            self._frame(shape, anchor)
            self.prototypes.shapes[key] = _detached(shape.element)
        return self.prototypes.shapes[key]

    def _rectangle(self, fill: str, name: str):
        key = ("rectangle", fill, name)
        if key not in self.prototypes.shapes:
            shape = PptxSlide(CT_Slide.new(), None).shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, 0, 0)
            shape.name = name
            shape.fill.solid()
            shape.fill.fore_color.rgb = RGBColor.from_string(fill)
            shape.line.fill.background()
            shape.shadow.inherit = False
            if name.startswith("Decoration"):
                _mark_decorative(shape)
            self.prototypes.shapes[key] = _detached(shape.element)
        return self.prototypes.shapes[key]

    def _notes_prototype(self):
        """(notes element, index of its notes placeholder): the notes master's placeholders cloned."""
        if self.prototypes.notes is None:
            notes = NotesSlide(CT_NotesSlide.new(), None)
            notes.clone_master_placeholders(self.prs.part.notes_master_part.notes_master)
            self.prototypes.notes = (notes.element, list(notes.shapes._spTree.iter_shape_elms()).index(
                notes.notes_placeholder.element))
        return self.prototypes.notes

    def _placeholder(self, shape, box: Box, anchor=MSO_ANCHOR.TOP):
        """A placeholder set where the plan measured its text."""
        shape.left, shape.top, shape.width, shape.height = (Inches(v) for v in (box.left, box.top, box.width, box.height))
        return self._frame(shape, anchor)

    def _frame(self, shape, anchor):
        tf = shape.text_frame
        tf.word_wrap = True
        tf.auto_size = MSO_AUTO_SIZE.NONE
        tf.margin_left = tf.margin_right = Inches(INSET_X)
        tf.margin_top = tf.margin_bottom = Inches(INSET_Y)
        tf.vertical_anchor = anchor
        return tf

    # shapes -------------------------------------------------------------------

    def _box(self, slide: _SlideXml, box: Box, anchor=MSO_ANCHOR.TOP, name: str = ""):
        """A text box's body, to write paragraphs into."""
        return slide.add(self._text_box(anchor), name, box).find(TXBODY)

    def _rect(self, slide: _SlideXml, left, top, width, height, fill: str, name: str) -> None:
        slide.add(self._rectangle(fill, name), name, Box(left, top, width, height))

    def _paragraphs(self, part, body, paras: tuple[Para, ...], size: float, colour: str,
                    after: bool = True, align: str = "l") -> None:
        """The paragraphs written as XML source and parsed once into a text body: the first takes
        the place of the body's one empty paragraph, the rest follow it; hyperlinks are related from `part`."""
        if not paras:
            return
        head = (f'<a:lnSpc><a:spcPts val="{Pt(size * LINE).centipoints}"/></a:lnSpc><a:spcBef><a:spcPts val="0"/>'
                f'</a:spcBef><a:spcAft><a:spcPts val="{Pt(size * PARA_AFTER if after else 0).centipoints}"/></a:spcAft>')
        run_head = f'<a:r><a:rPr sz="{Pt(size).centipoints}" '
        fills = {False: f'><a:solidFill><a:srgbClr val="{self._rgb(colour)}"/></a:solidFill>',
                 True: f'><a:solidFill><a:srgbClr val="{self._rgb(self.theme.colour.link)}"/></a:solidFill>'}
        bullet, fonts = self.bullet_xml, self.fonts_xml
        xml, empty_text = [], False
        for para in paras:
            # alignment always set: a placeholder's own may centre; indent and bullet always set: a
            # placeholder would otherwise inherit the master's
            xml.append(f'<a:p><a:pPr algn="{align}" marL="{int(Inches(para.level * BULLET_INDENT))}" '
                       f'indent="{-int(Inches(BULLET_INDENT * 0.8)) if para.level else 0}">{head}')
            if not para.bullet:
                xml.append("<a:buNone/>")
            elif para.bullet == "•":
                xml.append(f'{bullet}<a:buChar char="•"/>')
            else:
                xml.append(f'{bullet}<a:buAutoNum type="arabicPeriod" startAt={_attr(para.bullet.rstrip("."))}/>')
            xml.append("</a:pPr>")
            for run in para.runs:
                # a superscript's baseline shift also shrinks it, in PowerPoint and LibreOffice
                xml += (run_head, 'b="1" ' if run.bold else 'b="0" ', 'i="1"' if run.italic else 'i="0"',
                        ' baseline="30000"' if run.superscript else "", fills[bool(run.url)], fonts[bool(run.code)])
                if run.url:
                    xml.append(f'<a:hlinkClick r:id="{part.relate_to(run.url, RT.HYPERLINK, is_external=True)}"/>')
                xml += ("</a:rPr><a:t>", escape(CT_RegularTextRun._escape_ctrl_chars(run.text.replace("\n", "\v"))),
                        "</a:t></a:r>")
                empty_text = empty_text or not run.text
            xml.append("</a:p>")
        parsed = fromstring(f"<a:txBody {TEXT_NAMESPACES}>{''.join(xml)}</a:txBody>")
        if empty_text:  # an empty run is written <a:t></a:t>, as python-pptx writes it
            for text in parsed.iter(A_T):
                text.text = text.text or ""
        first = body.find(A_P)
        if first is not None:
            body.replace(first, parsed[0])
        body.extend(list(parsed))

    def _title(self, slide: _SlideXml, title, s: Slide, colour: str) -> None:
        self._paragraphs(slide.part, title.find(TXBODY), (Para((Run(s.title, bold=True),)),), s.title_size, colour, after=False)

    def _furniture(self, slide: _SlideXml, number: int) -> None:
        t = self.theme
        self._rect(slide, MARGIN_X + INSET_X, 1.42, 1.1, 0.06, t.colour.accent, "Decoration: accent rule")
        for text, left, width, align, name in ((self.doc.meta.short_title, MARGIN_X, 6.0, "l", "Footer"),
                                               (str(number), SLIDE_W - MARGIN_X - 1.5, 1.5, "r", "Slide number")):
            body = self._box(slide, Box(left, 6.95, width, 0.35), name=name)
            self._paragraphs(slide.part, body, (Para((Run(text),)),), 10, t.colour.muted, after=False, align=align)

    # slides -------------------------------------------------------------------

    def _add_slide(self, s: Slide) -> tuple[_SlideXml, object, object]:
        """A new slide from its kind's prototype; (the slide, its title, its body placeholder or None)."""
        prototype, last_id, title_at, body_at = self._slide_prototype(s.kind)
        element = deepcopy(prototype)
        slide = _SlideXml(element, self._slide_part(s, element), last_id)
        shapes = list(slide.tree.iter_shape_elms())
        return slide, shapes[title_at], None if body_at is None else shapes[body_at]

    def _slide_part(self, s: Slide, element) -> _SlidePart:
        """A new slide part, related from the presentation as python-pptx's add_slide relates it."""
        self.slides += 1
        n = self.slides
        part = _SlidePart(PackURI(f"/ppt/slides/slide{n}.xml"), CT.PML_SLIDE, self.package, element)
        part.relate_to(self.layouts[LAYOUTS[s.kind]].part, RT.SLIDE_LAYOUT)
        # a new part: no relationship to match, so the next free id (python-pptx's relate_to
        # would first scan every relationship of the presentation, once per slide)
        rid = self.prs.part.rels._add_relationship(RT.SLIDE, part)
        SubElement(self.slide_ids, P_SLDID, {"id": str(MIN_SLIDE_ID + n - 1), R_ID: rid})
        return part

    def _add_notes(self, slide: _SlideXml, s: Slide) -> "_NotesSlidePart":
        """The slide's notes page from the notes prototype."""
        prototype, notes_at = self._notes_prototype()
        element = deepcopy(prototype)
        part = self._notes_part(slide.part, element)
        body = list(element.cSld.spTree.iter_shape_elms())[notes_at].find(TXBODY)
        self._paragraphs(part, body, s.notes, self.theme.deck.notes_size, self.theme.colour.text, after=False)
        return part

    def _notes_part(self, slide: _SlidePart, element) -> "_NotesSlidePart":
        """A new notes page part, related as python-pptx's notes_slide relates it."""
        master = self.prs.part.notes_master_part  # made on first use, as python-pptx makes it
        part = _NotesSlidePart(self.package.next_partname("/ppt/notesSlides/notesSlide%d.xml"), CT.PML_NOTES_SLIDE,
                               self.package, element)
        part.relate_to(master, RT.NOTES_MASTER)
        part.relate_to(slide, RT.SLIDE)
        slide.relate_to(part, RT.NOTES_SLIDE)
        return part

    def slide(self, s: Slide, number: int) -> None:
        """The slide and its notes page; a slide written before in the process with the same plan,
        number, briefing details and fonts (and theme and reference deck, whose prototypes keep it)
        is that one's XML, its parts related anew in the same order."""
        key = (s, number, self.doc.meta, self.measure)
        if key in self.prototypes.written:
            slide_xml, notes_xml, links = self.prototypes.written[key]
            part = self._slide_part(s, None)
            for url in links:
                part.relate_to(url, RT.HYPERLINK, is_external=True)
            notes = self._notes_part(part, None)
            part.write_once(slide_xml)
            notes.write_once(notes_xml)
            return
        part, notes = self._write_slide(s, number)
        if s.kind != "image" and not _hyperlinks(notes):  # a picture is a part of its own; notes are plain text
            self.prototypes.keep(key, (part.blob, notes.blob, _hyperlinks(part)))

    def _write_slide(self, s: Slide, number: int) -> tuple[_SlidePart, _NotesSlidePart]:
        t = self.theme
        slide, title, body = self._add_slide(s)
        band = s.kind in ("title", "section") and not self.own_master
        match s.kind:
            case "title":
                self._title(slide, title, s, "FFFFFF" if band else t.colour.primary)
                self._rect(slide, 0.9 + INSET_X, 4.05, 2.0, 0.08, t.colour.accent, "Decoration: accent rule")
                m = self.doc.meta
                lines = [Para((Run(x, bold=i == 0),)) for i, x in enumerate(s.subtitle.split("\n")) if x]
                text = self._text_area(slide, body, Box(0.9, 4.3, SLIDE_W - 1.8, 1.3), "Subtitle")
                self._paragraphs(slide.part, text, tuple(lines), 18, "FFFFFF" if band else t.colour.text, after=False)
                byline = [Para((Run("; ".join(m.authors)),))]
                if m.supervisor:
                    byline.insert(0, Para((Run(f"{t.labels.supervised_by} {m.supervisor}"),)))
                text = self._box(slide, Box(0.9, 5.7, SLIDE_W - 1.8, 1.2), name="Byline")
                self._paragraphs(slide.part, text, tuple(byline), 14, "D9E2EC" if band else t.colour.muted, after=False)
                body = None
            case "section":
                self._rect(slide, 0.9 + INSET_X, 4.55, 1.6, 0.08, t.colour.accent, "Decoration: accent rule")
                self._title(slide, title, s, "FFFFFF" if band else t.colour.primary)
            case "figures":
                self._title(slide, title, s, t.colour.primary)
                self._figures(slide, s)
            case "image":
                self._title(slide, title, s, t.colour.primary)
                self._image(slide, s)
            case _:
                self._title(slide, title, s, t.colour.primary)
                self._paragraphs(slide.part, self._text_area(slide, body, s.body, "Text"), s.paras, s.size, t.colour.text)
                body = None
        if body is not None:  # a layout's body placeholder the slide does not use
            slide.tree.remove(body)
        if s.sources:
            text = self._box(slide, foot_box(s), MSO_ANCHOR.BOTTOM, name="Sources")
            self._paragraphs(slide.part, text, s.sources, t.deck.source_size, t.colour.muted, after=False)
        if s.kind not in ("title", "section"):  # last, so a screen reader reads title, text, sources, then these
            self._furniture(slide, number)
        notes = self._add_notes(slide, s)
        slide.part.write_once()
        notes.write_once()
        return slide.part, notes

    def _text_area(self, slide: _SlideXml, placeholder, box: Box, name: str):
        """The layout's body placeholder, placed, where it has one, else a text box."""
        if placeholder is None:
            return self._box(slide, box, name=name)
        _place(placeholder, box)
        return placeholder.find(TXBODY)

    def _figures(self, slide: _SlideXml, s: Slide) -> None:
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
            self._paragraphs(slide.part, self._box(slide, value_box, name="Figure value"), (Para(value),), size,
                             t.colour.accent, after=False)
            text_top = value_box.top + value_h + 0.1
            text = Box(value_box.left, text_top, inner_w, top + 0.3 + inner_h - text_top)
            self._paragraphs(slide.part, self._box(slide, text, name="Figure label"), paras, label_size, t.colour.primary)

    def _image(self, slide: _SlideXml, s: Slide) -> None:
        from PIL import Image as PILImage

        with PILImage.open(s.image) as im:
            w, h = im.size
        scale = min(s.body.width / w, s.body.height / h)
        width, height = w * scale, h * scale
        picture = slide.part.slide.shapes.add_picture(s.image, Inches(s.body.left + (s.body.width - width) / 2),
                                           Inches(s.body.top), Inches(width), Inches(height))
        picture._element._nvXxPr.cNvPr.set("descr", s.alt)
        slide.last_id = picture.shape_id

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
        return stamped_zip(_package_files(self.package), build_time(self.doc.meta))


def render_deck(doc: Document, theme: Theme) -> bytes:
    return _Deck(doc, theme).render()


class _WrittenOnce:
    """A slide or notes page whose XML is serialized as soon as the slide is done, its element tree
    then let go: a deck of thousands of slides holds their bytes rather than their trees."""

    _written: bytes | None = None

    def write_once(self, xml: bytes | None = None) -> None:
        """Its element serialized, or `xml`: what an identical page was written as."""
        self._written, self._element = serialize_part_xml(self._element) if xml is None else xml, None

    @property
    def blob(self) -> bytes:
        return self._written if self._written is not None else super().blob


class _SlidePart(_WrittenOnce, SlidePart):
    pass


class _NotesSlidePart(_WrittenOnce, NotesSlidePart):
    pass


def _package_files(package) -> PackageFiles:
    """What Presentation.save writes, as python-pptx's package writer writes it; the content types
    and each part's relationships as python-pptx wrote them before in the process for the same
    parts and relationships (a rebuild writes the same slides' relationships again)."""
    parts = tuple(package.iter_parts())
    files = PackageFiles()
    types = tuple((part.partname, part.content_type) for part in parts)
    files.write(CONTENT_TYPES_URI, _package_xml(("content types", types),
                                                lambda: serialize_part_xml(_ContentTypesItem.xml_for(parts))))
    files.write(PACKAGE_URI.rels_uri, _rels_xml(PACKAGE_URI, package._rels))
    for part in parts:
        files.write(part.partname, part.blob)
        if part._rels:
            files.write(part.partname.rels_uri, _rels_xml(part.partname, part._rels))
    return files


def _rels_xml(source: PackURI, rels) -> bytes:
    """The relationships' XML: the same for the same source folder, ids, types and targets."""
    rows = tuple((rel.rId, rel.reltype, rel.is_external, rel.target_ref if rel.is_external else rel.target_partname)
                 for rel in rels.values())
    return _package_xml((source.baseURI, rows), lambda: rels.xml)


_PACKAGE_XML: dict[tuple, bytes] = {}
MAX_PACKAGE_XML = 50_000  # relationships and content types parts a process keeps


def _package_xml(key: tuple, write) -> bytes:
    """The XML `write` makes, made once per process for `key` (what the XML is made from)."""
    if key not in _PACKAGE_XML:
        keep(_PACKAGE_XML, key, write(), MAX_PACKAGE_XML)
    return _PACKAGE_XML[key]


def _hyperlinks(part) -> tuple[str, ...]:
    """The addresses a part links to, in the order of their relationships."""
    return tuple(rel.target_ref for rel in part.rels.values() if rel.reltype == RT.HYPERLINK)


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


def _detached(element):
    element.getparent().remove(element)
    return element


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
