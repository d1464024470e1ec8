"""Where templates, the theme, fonts and reference files come from.

The package carries a complete default set (`briefkit/defaults/`). A project's templates
folder overrides it file by file: a file found there wins, anything else comes from the
defaults, so a briefing folder that holds only content builds as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULTS = Path(__file__).resolve().parent / "defaults"


@dataclass(frozen=True, slots=True)
class Templates:
    """The folders searched for a template file, the project's first."""

    folders: tuple[Path, ...]

    @classmethod
    def of(cls, project: Path | None) -> Templates:
        """The project's folder (if any) over the packaged defaults."""
        return cls((Path(project), DEFAULTS) if project is not None else (DEFAULTS,))

    def find(self, name: str) -> Path | None:
        for folder in self.folders:
            if (folder / name).is_file():
                return folder / name
        return None

    def display(self, path: Path) -> str:
        """A short name for messages: `templates/theme.yaml` or `(built-in)/theme.yaml`."""
        path = Path(path)
        for folder in self.folders:
            try:
                rel = path.resolve().relative_to(folder.resolve())
            except ValueError:
                continue
            return f"(built-in)/{rel.as_posix()}" if folder == DEFAULTS else f"{folder}/{rel.as_posix()}"
        return str(path)
