"""Tagged PDF (PDF/UA-1) for the brief: marked content while reportlab draws, the structure tree after.

During layout every leaf flowable is wrapped in `Tagged`, which opens a marked-content sequence
with the next MCID of its page (`/P <</MCID 3>> BDC ... EMC`) and records that MCID on its
structure node; page furniture, rules and table backgrounds and grids are drawn as artifacts.
The structure nodes are made while the brief walks the document model, so the tree follows the
model. `write_pdf` then writes reportlab's document with the tree: StructTreeRoot, ParentTree,
StructParents, link annotations as OBJR under Link elements, MarkInfo, Lang, XMP metadata.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator
from xml.sax.saxutils import escape

from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.pdfdoc import LinkAnnotation, PDFDictionary, PDFDocument, PDFName, PDFStream, PDFString
from reportlab.pdfbase.pdfdoc import format as pdf_format
from reportlab.pdfbase.ttfonts import TTFontFace
from reportlab.platypus import Flowable
from reportlab.platypus.flowables import cdeepcopy

from briefkit.kept import Generations


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
    name: str  # reportlab's name for it
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
        """A link annotation was just added to the page: it belongs to the node being drawn."""
        link = Node("Link", kids=[_Annotation(canv.getPageNumber(), canv._annotationrefs[-1].name,
                                              target.removeprefix("#"))])
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


# writing the PDF with its tree -------------------------------------------------------

OBJECTS_PER_STREAM = 100  # as qpdf packs them (at most 256: an index is one byte)
_ROW_FORMAT = struct.Struct(">BIB")  # a cross-reference row: type, offset or object stream, index there
_ROW = _ROW_FORMAT.size


def write_pdf(doc: PDFDocument, tags: Tags, *, title: str, lang: str) -> bytes:
    """reportlab's document as a tagged PDF: its objects, then the structure tree and ParentTree,
    with link descriptions and PDF/UA identification. Every object but a stream is packed into
    compressed object streams, found through a cross-reference stream (PDF 1.7).

    Put in place of `doc.format`, so that reportlab formats each of its objects once, straight
    into the file: the tree is written from the nodes, never held as PDF objects."""
    pages = [doc.idToObject[f"Page{n}"] for n in range(1, doc.pageCounter)]
    for i, page in enumerate(pages):
        page.StructParents, page.Tabs = i, PDFName("S")
        page.__NoDefault__ = [*page.__NoDefault__, "StructParents", "Tabs"]
    for key, link in enumerate(_links(tags.root), start=len(pages)):
        _describe(doc.idToObject[link.name], tags.descriptions.get(link.target, link.target), key)
    root = PDFDictionary()  # stands for the StructTreeRoot in reportlab's numbering; written below
    cat = doc.Catalog
    cat.StructTreeRoot = root
    cat.MarkInfo = PDFDictionary({"Marked": "true"})
    cat.Lang = PDFString(lang)
    cat.ViewerPreferences = PDFDictionary({"DisplayDocTitle": "true"})
    cat.Metadata = PDFStream(PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}),
                             _xmp(title, lang).encode(), filters=[])
    out = _Writer()
    cat_ref, info_ref = doc.Reference(cat).format(doc), doc.Reference(doc.info).format(doc)
    number = 0
    while (number := number + 1) in doc.numberToId:  # formatting an object may register more
        obj = doc.idToObject[doc.numberToId[number]]
        if obj is root:
            root_number = number
        else:
            out.put(number, pdf_format(obj, doc, toplevel=1))

    page_refs = [doc.Reference(page).format(doc) for page in pages]
    by_page: dict[int, dict[int, int]] = {}  # page -> MCID -> its element's number
    owners: list[int] = []  # elements owning the annotations, keyed after the pages

    def element(node: Node, num: int, parent: bytes) -> int:
        """Writes the element numbered `num` and those under it (numbered after it); the next free number."""
        kids, free, ref = [], num + 1, b"%d 0 R" % num
        for kid in node.kids:
            if isinstance(kid, Node):
                kids.append(b"%d 0 R" % free)
                free = element(kid, free, ref)
            elif isinstance(kid, _Content):
                kids.append(b"<< /Type /MCR /Pg %s /MCID %d >>" % (page_refs[kid.page - 1], kid.mcid))
                by_page.setdefault(kid.page - 1, {})[kid.mcid] = num
            else:
                owners.append(num)
                kids.append(b"<< /Type /OBJR /Obj %d 0 R /Pg %s >>"
                            % (doc.idToObjectNumberAndVersion[kid.name][0], page_refs[kid.page - 1]))
        body = [b"<< /Type /StructElem /S /%s /P %s" % (node.role.encode(), parent)]
        if node.alt:
            body.append(b" /Alt " + PDFString(node.alt).format(doc))
        if node.scope:
            body.append(b" /A << /O /Table /Scope /%s >>" % node.scope.encode())
        # a single kid stands alone, as most writers do
        body.append(b" /K " + (kids[0] if len(kids) == 1 else b"[" + b" ".join(kids) + b"]") + b" >>")
        out.put(num, b"".join(body))
        return free

    free = element(tags.root, number, b"%d 0 R" % root_number)
    nums = []
    for i in range(len(pages)):
        marked = by_page.get(i, {})
        out.put(free, b"[" + b" ".join(b"%d 0 R" % marked[m] for m in range(len(marked))) + b"]")
        nums.append(b"%d %d 0 R" % (i, free))
        free += 1
    nums += [b"%d %d 0 R" % (key, owner) for key, owner in enumerate(owners, start=len(pages))]
    out.put(free, b"<< /Nums [" + b" ".join(nums) + b"] >>")
    out.put(root_number, b"<< /Type /StructTreeRoot /K %d 0 R /ParentTree %d 0 R /ParentTreeNextKey %d >>"
            % (number, free, len(pages) + len(owners)))
    return out.finish(free + 1, root=cat_ref, info=info_ref)


@contextmanager
def saving() -> Iterator[None]:
    """While reportlab saves a document: its `format` and `PDFName`, as its objects call them, are
    the same functions made quicker (a string's bytes and a name are worked out once per file, a
    number skips the generic checks); within `kept`, streams are compressed and font subsets
    made once for the renders that have them again. The same bytes."""
    generic_format, generic_name, generic_subset = pdfdoc.format, pdfdoc.PDFName, TTFontFace.makeSubset
    encoded: dict[str, bytes] = {}
    names: dict[str, str] = {}

    def quick_format(element, document, toplevel=0):
        kind = type(element)
        if kind is str:
            data = encoded.get(element)
            if data is None:
                data = encoded[element] = element.encode("extpdfdoc")
            return data
        if kind is int or kind is float:  # digits, '.' and '-', the same in reportlab's encoding
            return fp_str(element).encode("ascii")
        return generic_format(element, document, toplevel)

    def quick_name(data, *bounds):
        if bounds or type(data) is not str:
            return generic_name(data, *bounds)
        name = names.get(data)
        if name is None:
            name = names[data] = generic_name(data)
        return name

    def kept_subset(face, subset):
        return _KEPT.get((face, tuple(subset)), lambda: generic_subset(face, subset))

    pdfdoc.format, pdfdoc.PDFName = quick_format, quick_name
    if _KEPT is not None:
        _KEPT.begin()
        TTFontFace.makeSubset = kept_subset
        pdfdoc.PDFZCompress.encode = _compress
    try:
        yield
    finally:
        pdfdoc.format, pdfdoc.PDFName, TTFontFace.makeSubset = generic_format, generic_name, generic_subset
        pdfdoc.PDFZCompress.__dict__.pop("encode", None)


class _Kept(Generations):
    """Streams compressed and font subsets made by the files before, kept by a process that writes
    the brief again and again (`watch`): Flate bytes by the bytes compressed, a subset by its font
    face and characters. Entries the last file neither used nor made are let go."""

    def __init__(self) -> None:
        super().__init__(MAX_KEPT, lambda key, data: len(data) + (len(key) if isinstance(key, bytes) else 0))

    def get(self, key, make):
        data = self.find(key)
        if data is None:
            data = make()
            self.keep(key, data)
        return data


MAX_KEPT = 32 * 2**20  # bytes of streams and subsets kept for the next file
_KEPT: _Kept | None = None


@contextmanager
def kept() -> Iterator[None]:
    """Within it, each file saved keeps its compressed streams and font subsets for the next (see _Kept)."""
    global _KEPT
    saved, _KEPT = _KEPT, _Kept()
    try:
        yield
    finally:
        _KEPT = saved


def _compress(data: bytes | str) -> bytes:
    """zlib's compression of the bytes (of UTF-8 text, as reportlab's Flate filter takes it), kept within `kept`."""
    if isinstance(data, str):
        data = data.encode("utf8")
    return zlib.compress(data) if _KEPT is None else _KEPT.get(data, lambda: zlib.compress(data))


def _links(node: Node) -> list[_Annotation]:
    """The annotations under `node`, in the order the tree is written."""
    out = []
    for kid in node.kids:
        if isinstance(kid, Node):
            out += _links(kid)
        elif isinstance(kid, _Annotation):
            out.append(kid)
    return out


def _describe(annotation, text: str, key: int) -> None:
    """A link annotation's description and its key in the ParentTree (reportlab makes two kinds)."""
    if isinstance(annotation, PDFDictionary):  # a link to an address
        annotation["Contents"], annotation["StructParent"] = PDFString(text), key
    else:  # a LinkAnnotation, to a place in the document
        annotation.Contents = text
        annotation.otherkw["StructParent"] = key
        annotation.permitted = _LINK_KEYS


_LINK_KEYS = (*LinkAnnotation.permitted, "StructParent")  # the keys a LinkAnnotation may have


class _Writer:
    """A PDF file being written: streams as they come, other objects packed by OBJECTS_PER_STREAM."""

    def __init__(self) -> None:
        self.chunks = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"]
        self.size = len(self.chunks[0])
        self.digest = hashlib.md5(self.chunks[0], usedforsecurity=False)  # of the objects, for the file's ID
        # the cross-reference stream's rows by object number, each type 1 (offset, 0) or type 2
        # (object stream, index there); an object stream's number is its count until `finish`
        self.rows = bytearray(_ROW)  # object 0 heads the free list
        self.pending: list[tuple[int, bytes]] = []  # objects for the next object stream
        self.streams: list[tuple[int, int, bytes]] = []  # object streams made: objects, offset of the first, data

    def put(self, number: int, body: bytes) -> None:
        if body.endswith(b"endstream\n"):
            self._write(number, body)
            return
        self.pending.append((number, body))
        if len(self.pending) == OBJECTS_PER_STREAM:
            self._pack()

    def _row(self, number: int, kind: int, field: int, index: int) -> None:
        if len(self.rows) <= number * _ROW:
            self.rows += bytes((number + 1) * _ROW - len(self.rows))
        _ROW_FORMAT.pack_into(self.rows, number * _ROW, kind, field, index)

    def _write(self, number: int, body: bytes) -> None:
        self._row(number, 1, self.size, 0)
        for chunk in (b"%d 0 obj\n" % number, body, b"\nendobj\n"):
            self.chunks.append(chunk)
            self.digest.update(chunk)
            self.size += len(chunk)

    def _pack(self) -> None:
        index, bodies, offset = [], [], 0
        for i, (number, body) in enumerate(self.pending):
            self._row(number, 2, len(self.streams), i)
            index.append(b"%d %d" % (number, offset))
            bodies.append(body)
            offset += len(body) + 1
        head = b" ".join(index) + b"\n"
        self.streams.append((len(bodies), len(head), _compress(head + b"\n".join(bodies) + b"\n")))
        self.pending = []

    def finish(self, free: int, *, root: bytes, info: bytes) -> bytes:
        """The file: object streams numbered from `free`, then the cross-reference stream."""
        if self.pending:
            self._pack()
        for k, (count, first, data) in enumerate(self.streams):
            self._write(free + k, b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
                        % (count, first, len(data)) + data + b"\nendstream\n")
        for number, (kind, stream, index) in enumerate(_ROW_FORMAT.iter_unpack(bytes(self.rows))):
            if kind == 2:
                self._row(number, 2, free + stream, index)
        xref, at = free + len(self.streams), self.size
        self._row(xref, 1, at, 0)  # the cross-reference stream lists itself
        table = _compress(_png_up(self.rows))
        digest = self.digest.hexdigest().encode()
        self._write(xref, b"<< /Type /XRef /Size %d /W [1 4 1] /Root %s /Info %s /ID [<%s><%s>] /Filter /FlateDecode "
                    b"/DecodeParms << /Columns %d /Predictor 12 >> /Length %d >>\nstream\n"
                    % (xref + 1, root, info, digest, digest, _ROW, len(table)) + table + b"\nendstream\n")
        self.chunks.append(b"startxref\n%d\n%%%%EOF\n" % at)
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def _png_up(rows: bytearray) -> bytes:
    """Rows of _ROW bytes, each as its difference from the row above (the PNG 'Up' predictor),
    which makes a cross-reference table compress tenfold.

    The differences are taken all at once, the table as one number: each byte is subtracted
    with its top bit set in the row and cleared in the row above, so that no lane borrows from
    the next, and the top bits are then put right."""
    size = len(rows)
    below, above = int.from_bytes(rows, "big"), int.from_bytes(bytes(_ROW) + rows[:-_ROW], "big")
    top = int.from_bytes(b"\x80" * size, "big")
    diff = (((below | top) - (above & ~top)) ^ ((below ^ ~above) & top)).to_bytes(size, "big")
    out = bytearray(size + size // _ROW)
    out[0::_ROW + 1] = b"\2" * (size // _ROW)  # each row opens with its predictor, Up
    for i in range(_ROW):
        out[i + 1::_ROW + 1] = diff[i::_ROW]
    return bytes(out)


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
