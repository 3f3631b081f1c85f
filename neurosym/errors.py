"""Errors a user can act on: every one names where the problem is and what was expected.

The CLI prints ``str(error)`` and exits with status 1; no traceback reaches the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """A position in a source file (1-based line and column).

    ``text`` is the whole text that was parsed, when known: the excerpt then shows what was read
    even for a theory given as a string or one whose file has changed since.
    """

    file: str
    line: int
    column: int
    end_column: int | None = None
    text: str | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def excerpt(self) -> str:
        """The offending source line with a caret under the column, or '' if unreadable."""
        try:
            source = self.text if self.text is not None else Path(self.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""
        text = source.splitlines()
        if not 1 <= self.line <= len(text):
            return ""
        line = text[self.line - 1].rstrip("\n")
        width = max(1, (self.end_column or self.column + 1) - self.column)
        indent = "".join(c if c == "\t" else " " for c in line[: self.column - 1])  # tabs keep the caret aligned
        return f"    {line}\n    {indent}{'^' * width}"


class NeurosymError(Exception):
    """Base class of every error neurosym raises on purpose."""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.location}: {self.message}" if self.location else self.message
        parts = [head]
        if self.location and (excerpt := self.location.excerpt()):
            parts.append(excerpt)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class ConstraintSyntaxError(NeurosymError):
    """The constraint file does not follow the grammar."""


class ConstraintTypeError(NeurosymError):
    """Names, arities, types or variable bindings are wrong."""


class GroundingError(NeurosymError):
    """Domains given at compile time are missing or invalid."""


class CompilationError(NeurosymError):
    """The theory is unsatisfiable, the compilation ran over its budget, or an option is invalid."""


class ArtifactError(NeurosymError):
    """A compiled artifact folder is missing files or does not match its manifest."""


class DataError(NeurosymError):
    """A data file or a configuration value is malformed."""


class ConfigError(DataError):
    """A training config file, a ``--set`` override or a command-line option has a bad key or value."""


class DeviceError(NeurosymError):
    """The device asked for is not available on this machine."""


class RunFolderError(NeurosymError):
    """A run folder is missing a file it should hold, or holds one that cannot be read."""


class RunFolderExistsError(RunFolderError):
    """A new run would start over an earlier run in the same folder."""
