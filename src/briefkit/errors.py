"""The one exception type for mistakes a user can fix in content or templates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Origin:
    """Where something came from, for messages only; line 0 names a folder or a whole file."""

    path: str
    line: int


class BuildError(Exception):
    def __init__(self, message: str, origin: Origin | None = None, severity: str = "error") -> None:
        super().__init__(message)
        self.message, self.origin, self.severity = message, origin, severity

    def __reduce__(self):  # pickled whole (a build renders its formats in separate processes)
        return BuildError, (self.message, self.origin, self.severity)

    def as_error(self) -> BuildError:
        """The same finding as an error (what --strict does to a warning)."""
        return BuildError(self.message, self.origin)

    def __str__(self) -> str:
        where = "" if not self.origin else f"{self.origin.path}:{self.origin.line}: " if self.origin.line else f"{self.origin.path}: "
        return f"{where}{self.severity}: {self.message}"


class BuildErrors(Exception):
    """Several findings reported together (all of `check`, for instance)."""

    def __init__(self, findings: list[BuildError]) -> None:
        super().__init__("\n".join(map(str, findings)))
        self.findings = findings

    def __reduce__(self):
        return BuildErrors, (self.findings,)
