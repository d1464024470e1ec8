"""A briefing's folder: where its content is found, and `briefkit new`, which writes one.

Lookup, as `make` does it: `--content DIR` when given; else `./content` when it holds a
briefing; else the current folder when it does (a folder of content files only); else
`./content` if it exists at all, so that its problem is reported. A folder "holds a
briefing" when one of its .md files says `kind: briefing` in its front matter.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from briefkit.templates import DEFAULTS

SCAFFOLD = Path(__file__).resolve().parent / "scaffold"
CONTENT = Path("content")
_KIND_BRIEFING = re.compile(r"""^kind:[ \t]*(["']?)briefing\1[ \t]*(?:#.*)?$""", re.M)
_HEAD_BYTES = 4096  # `kind:` sits near the top of the front matter


def holds_briefing(folder: Path) -> bool:
    """True when a .md file directly in `folder` has `kind: briefing` in its front matter."""
    try:
        files = [p for p in folder.iterdir() if p.suffix.lower() == ".md" and p.is_file()]
    except OSError:
        return False
    for path in files:
        try:
            with path.open("rb") as f:
                head = f.read(_HEAD_BYTES).decode("utf-8-sig", "replace").replace("\r\n", "\n")
        except OSError:
            continue
        parts = head.split("\n---", 1)
        if head.startswith("---") and _KIND_BRIEFING.search(parts[0]):
            return True
    return False


def find_content(given: Path | None) -> Path | None:
    """The content folder to use, or None when there is no briefing to be found here."""
    if given is not None:
        return given
    if holds_briefing(CONTENT):
        return CONTENT
    if holds_briefing(Path(".")):
        return Path(".")
    return CONTENT if CONTENT.is_dir() else None


def scaffold_problem(dest: Path) -> str:
    """Why `briefkit new` may not write into `dest`; empty when it may."""
    if dest.exists() and not dest.is_dir():
        return f"'{dest}' is a file; name a new folder (nothing was changed)"
    if dest.is_dir() and any(dest.iterdir()):
        return f"'{dest}' already exists and is not empty; name a new folder (nothing was changed)"
    return ""


def new_briefing(dest: Path, *, with_templates: bool) -> list[Path]:
    """Write the example briefing into `dest` (new or empty); with `with_templates`, also a copy
    of the built-in templates and theme to customise. Returns the files written."""
    shutil.copytree(SCAFFOLD, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "gitignore").rename(dest / ".gitignore")  # a package does not carry dot-files reliably
    if with_templates:
        (dest / "templates").mkdir()
        for path in sorted(DEFAULTS.iterdir()):
            if path.suffix in (".j2", ".yaml"):
                shutil.copy2(path, dest / "templates" / path.name)
    return sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())
