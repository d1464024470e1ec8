"""All-or-nothing writes: a reader finds every deliverable old or every one new, never a mix.

Each file is first written whole to a temporary beside it (`.memo.docx.<random>.tmp`); only
when every temporary is on disk are they renamed over the old files, one after another in one
short step. Any error before that removes the temporaries and leaves the old files as they were.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path

from briefkit.errors import BuildError

MAX_STEM_BYTES = 100  # a stem plus "-memo.docx" stays far below the usual 255-byte name limit
_STEM = re.compile(r"\w[\w.-]*")
_WHY = {
    errno.ENOSPC: "no space left on the disk",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
}


def stem_problem(stem: str) -> str | None:
    """Why `stem` cannot be a file-name stem, or None when it can."""
    if not _STEM.fullmatch(stem):
        return ("use only letters, digits, '-', '_' and '.', starting with a letter or digit "
                "(no '/', '\\', spaces or control characters)")
    if ".." in stem:
        return "'..' is not allowed"
    if len(stem.encode()) > MAX_STEM_BYTES:
        return f"at most {MAX_STEM_BYTES} bytes, not {len(stem.encode())}"
    return None


def write_error(path: Path, e: OSError) -> BuildError:
    """One line naming the path and what the system said, in words a reader acts on."""
    why = _WHY.get(e.errno or 0, (e.strerror or str(e)).lower())
    return BuildError(f"cannot write '{path}': {why}")


def _own_temporary(name: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(name)}\.[A-Za-z0-9_]+\.tmp")


def _prepare_folder(folder: Path, names: list[str]) -> None:
    """Create the folder if needed, and clear temporaries a killed build left for these names."""
    try:
        if folder.exists() and not folder.is_dir():
            raise BuildError(f"cannot write into '{folder}': it is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        own = [_own_temporary(name) for name in names]
        for stale in folder.glob(".*.tmp"):
            if any(p.fullmatch(stale.name) for p in own):
                stale.unlink()
    except (FileExistsError, NotADirectoryError):
        raise BuildError(f"cannot create folder '{folder}': a part of the path is a file") from None
    except OSError as e:
        raise write_error(folder, e) from None


def _write_temporary(path: Path, data: bytes) -> str:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_all(files: dict[Path, bytes]) -> None:
    """Write every file, or none: temporaries first, then one short run of renames."""
    temporaries: list[tuple[str, Path]] = []
    try:
        for folder in dict.fromkeys(path.parent for path in files):
            _prepare_folder(folder, [p.name for p in files if p.parent == folder])
        for path, data in files.items():
            if path.is_dir():
                raise BuildError(f"cannot write '{path}': a folder of that name is in the way")
            try:
                temporaries.append((_write_temporary(path, data), path))
            except OSError as e:
                raise write_error(path, e) from None
    except BaseException:
        for tmp, _ in temporaries:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, path in temporaries:
        os.replace(tmp, path)
    for folder in dict.fromkeys(path.parent for path in files):
        _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Make the renames durable (where the system lets a folder be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
