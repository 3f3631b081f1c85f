"""Where the grammar, the shipped constraint files and the experiment configs live, and the cache.

From a source checkout they are the top-level folders ``grammars/``, ``constraints/`` and
``experiments/``; an installed wheel carries copies under ``neurosym/_resources/``. Compiled
circuits and converted models are cached under `cache_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder ``name`` (``grammars``, ``constraints`` or ``experiments``)."""
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"neurosym resource folder {name!r} is missing from the installation")


def grammar_path() -> Path:
    return resource_dir("grammars") / "neurosym.lark"


def constraint_path(relative: str) -> Path:
    """A shipped constraint file, e.g. ``constraint_path("causal/transitivity.ns")``."""
    return resource_dir("constraints") / relative


def cache_dir() -> Path:
    """Root of neurosym's cache: ``$NEUROSYM_CACHE``, else ``~/.cache/neurosym``."""
    return Path(os.environ.get("NEUROSYM_CACHE") or Path.home() / ".cache" / "neurosym").expanduser()
