"""Tagged PDF (PDF/UA-1) for the brief: marked content while reportlab draws, the structure tree after.

During layout every leaf flowable is wrapped in `Tagged`, which opens a marked-content sequence
with the next MCID of its page (`/P <</MCID 3>> BDC ... EMC`) and records that MCID on its
structure node; page furniture, rules and table backgrounds and grids are drawn as artifacts.
The structure nodes are made while the brief walks the document model, so the tree follows the
model. `finish` then writes the tree into the PDF with pikepdf: StructTreeRoot, ParentTree,
StructParents, link annotations as OBJR under Link elements, MarkInfo, Lang, XMP metadata.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator
from xml.sax.saxutils import escape

import pikepdf
from pikepdf import Array, Dictionary, Name, String
from reportlab.platypus import Flowable
from reportlab.platypus.flowables import cdeepcopy


@dataclass(eq=False)
class Node:
    """A structure element: its role, alternate text, table header scope and kids in reading order.

    A kid is a Node, a marked-content reference (page number, MCID) or an annotation (page, index).
    """

    role: str
    alt: str = ""
    scope: str = ""
    kids: list = field(default_factory=list)

    def __deepcopy__(self, memo):  # reportlab deep-copies a table cell it splits: its parts keep the node
        return self


@dataclass(frozen=True, slots=True)
class _Content:
    page: int
    mcid: int


@dataclass(frozen=True, slots=True)
class _Annotation:
    page: int
    index: int
    target: str  # a URL or an anchor name


class Tags:
    """The structure of one layout pass: nodes made from the model, MCIDs and links recorded while drawing."""

    def __deepcopy__(self, memo):  # one record per pass, shared by every copy of a flowable
        return self

    def __init__(self) -> None:
        self.root = Node("Document")
        self._parent = self.root
        self._stack: list[Node | None] = []  # open marked-content sequences (None: an artifact)
        self._mcids: dict[int, int] = {}  # page -> next MCID
        self._annots: dict[int, int] = {}  # page -> annotations so far
        # link target (URL or anchor name) -> what it leads to; complete only after the pass, as the
        # contents page links to headings laid out later
        self.descriptions: dict[str, str] = {}

    # building the tree from the model -------------------------------------------------

    def node(self, role: str, **kw) -> Node:
        node = Node(role, **kw)
        self._parent.kids.append(node)
        return node

    @contextmanager
    def element(self, role: str, **kw) -> Iterator[Node]:
        """Nodes made inside the block go under a new element."""
        node, saved = self.node(role, **kw), self._parent
        self._parent = node
        try:
            yield node
        finally:
            self._parent = saved

    def leaf(self, flowable: Flowable, role: str, **kw) -> "Tagged":
        return Tagged(flowable, self, self.node(role, **kw))

    def artifact(self, flowable: Flowable) -> "Tagged":
        return Tagged(flowable, self, None)

    def describe(self, target: str, text: str) -> None:
        self.descriptions.setdefault(target, text)

    # recording while drawing ----------------------------------------------------------

    @property
    def _open(self) -> Node | None:
        """The node whose marked content is being drawn."""
        return next((n for n in reversed(self._stack) if n is not None), None)

    def begin(self, canv, node: Node | None) -> None:
        """Open a sequence; content inside another one (or decoration) is an artifact, never a second MCID."""
        if node is None or self._open is not None:
            canv._code.append("/Artifact BMC")
            self._stack.append(None)
            return
        page = canv.getPageNumber()
        mcid = self._mcids.get(page, 0)
        self._mcids[page] = mcid + 1
        node.kids.append(_Content(page, mcid))
        canv._code.append(f"/{node.role} <</MCID {mcid}>> BDC")
        self._stack.append(node)

    def end(self, canv) -> None:
        canv._code.append("EMC")
        self._stack.pop()

    def annotation(self, canv, target: str) -> None:
        """A link annotation is being added to the page: it belongs to the node being drawn."""
        page = canv.getPageNumber()
        index = self._annots.get(page, 0)
        self._annots[page] = index + 1
        link = Node("Link", kids=[_Annotation(page, index, target.removeprefix("#"))])
        owner = self._open or self.root
        owner.kids.append(Node("Reference", kids=[link]) if target.startswith("note-") else link)

    @contextmanager
    def drawing_artifact(self, canv) -> Iterator[None]:
        self.begin(canv, None)
        try:
            yield
        finally:
            self.end(canv)

    def table_decoration(self, table) -> None:
        """A table's backgrounds and rules are drawn as artifacts; its cells carry their own tags."""

        def render(_table, event, *_):
            if event in ("startBG", "startLines"):
                self.begin(_table.canv, None)
            elif event in ("endBG", "endLines"):
                self.end(_table.canv)

        table._renderCB = render


class Tagged(Flowable):
    """Any flowable drawn inside a marked-content sequence for `node` (an artifact when None).

    Splits keep the node, so a paragraph continued on the next page is two MCIDs of one P.
    A flowable drawn a second time (a table header repeated on a new page) is an artifact.
    """

    def __init__(self, inner: Flowable, tags: Tags, node: Node | None) -> None:
        self.__dict__.update(_inner=inner, _tags=tags, _node=node, _drawn=False)

    # every attribute but the wrapper's own is the wrapped flowable's (a frame sets canv, _frame, ...)
    def __getattr__(self, name):
        if "_inner" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["_inner"], name)

    def deepcopy(self):
        """What a table splitting a cell tries: a copy of the flowable, tagged as the same node."""
        return Tagged(cdeepcopy(self._inner), self._tags, self._node)

    def __deepcopy__(self, memo):
        return self.deepcopy()

    def __setattr__(self, name, value):
        setattr(self._inner, name, value)

    def __delattr__(self, name):
        delattr(self._inner, name)

    def wrapOn(self, canv, aW, aH):  # noqa: N802 (reportlab's names)
        return self._inner.wrapOn(canv, aW, aH)

    def wrap(self, aW, aH):
        return self._inner.wrap(aW, aH)

    def splitOn(self, canv, aW, aH):  # noqa: N802
        return [Tagged(f, self._tags, self._node) for f in self._inner.splitOn(canv, aW, aH)]

    def split(self, aW, aH):
        return [Tagged(f, self._tags, self._node) for f in self._inner.split(aW, aH)]

    def drawOn(self, canv, x, y, _sW=0):  # noqa: N802
        self._tags.begin(canv, None if self._drawn else self._node)
        self.__dict__["_drawn"] = True
        try:
            self._inner.drawOn(canv, x, y, _sW)
        finally:
            self._tags.end(canv)


class TaggedBullet:
    """A list bullet or number drawn as the Lbl of its item."""

    def __init__(self, bullet, tags: Tags, node: Node | None) -> None:
        self.bullet, self.tags, self.node = bullet, tags, node

    def __getattr__(self, name):
        return getattr(self.__dict__["bullet"], name)

    def drawOn(self, indenter, canv, x, y, _sW=0):  # noqa: N802
        self.tags.begin(canv, self.node)
        try:
            self.bullet.drawOn(indenter, canv, x, y, _sW)
        finally:
            self.tags.end(canv)


# writing the tree into the PDF --------------------------------------------------------


def finish(data: bytes, tags: Tags, *, title: str, lang: str) -> bytes:
    """The PDF with its structure tree, ParentTree, link descriptions and PDF/UA identification."""
    pdf = pikepdf.open(io.BytesIO(data))
    pages = list(pdf.pages)
    by_page: dict[int, dict[int, pikepdf.Object]] = {}  # page -> MCID -> its element
    annots: list[pikepdf.Object] = []  # elements owning annotations, keyed after the pages

    def element(node: Node, parent) -> pikepdf.Object:
        elem = pdf.make_indirect(Dictionary(Type=Name.StructElem, S=Name("/" + node.role), P=parent))
        if node.alt:
            elem.Alt = String(node.alt)
        if node.scope:
            elem.A = Dictionary(O=Name.Table, Scope=Name("/" + node.scope))
        kids = Array()
        for kid in node.kids:
            if isinstance(kid, Node):
                kids.append(element(kid, elem))
            elif isinstance(kid, _Content):
                page = pages[kid.page - 1].obj
                kids.append(Dictionary(Type=Name.MCR, Pg=page, MCID=kid.mcid))
                by_page.setdefault(kid.page - 1, {})[kid.mcid] = elem
            else:
                page = pages[kid.page - 1]
                annot = page.obj.Annots[kid.index]
                annot.Contents = String(tags.descriptions.get(kid.target, kid.target))
                annot.StructParent = len(pages) + len(annots)
                annots.append(elem)
                kids.append(Dictionary(Type=Name.OBJR, Obj=annot, Pg=page.obj))
        elem.K = kids[0] if len(kids) == 1 else kids  # a single kid stands alone, as most writers do
        return elem

    root = pdf.make_indirect(Dictionary(Type=Name.StructTreeRoot))
    root.K = element(tags.root, root)
    nums: list = []  # a Python list made into one Array: pikepdf's Array.extend copies the whole array
    for i, page in enumerate(pages):
        page.obj.StructParents = i
        page.obj.Tabs = Name.S
        marked = by_page.get(i, {})
        nums += [i, pdf.make_indirect(Array([marked[m] for m in range(len(marked))]))]
    for key, elem in enumerate(annots, start=len(pages)):
        nums += [key, elem]
    root.ParentTree = pdf.make_indirect(Dictionary(Nums=Array(nums)))
    root.ParentTreeNextKey = len(pages) + len(annots)

    cat = pdf.Root
    cat.StructTreeRoot = root
    cat.MarkInfo = Dictionary(Marked=True)
    cat.Lang = String(lang)
    cat.ViewerPreferences = Dictionary(DisplayDocTitle=True)
    cat.Metadata = pdf.make_stream(_xmp(title, lang).encode(), Type=Name.Metadata, Subtype=Name.XML)
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def _xmp(title: str, lang: str) -> str:
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
      xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt></dc:title>
   <dc:language><rdf:Bag><rdf:li>{escape(lang)}</rdf:li></rdf:Bag></dc:language>
   <pdfuaid:part>1</pdfuaid:part>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
