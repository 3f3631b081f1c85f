"""Atomic writes: a temporary file or folder beside the target, then a rename onto the target.

A reader sees the old file or the new one, never half of one; a failed write leaves the target as
it was and removes the temporary file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from neurosym.errors import DataError


def atomic_write(path: str | Path, write: Callable[[str], object]) -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file over ``path``.

    The temporary name keeps ``path``'s suffix, so writers that pick a format by it (matplotlib) work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; the result should not be
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) atomically; a `DataError` naming ``path`` when it cannot be written."""
    try:
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    except OSError as error:
        raise DataError(f"cannot write {path}: {error.strerror or error}") from None


def atomic_write_jsonl(path: str | Path, records: Iterable[dict]) -> int:
    """Write ``records`` as JSON lines atomically; returns the line count."""
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def replace_folder(work: Path, folder: Path) -> None:
    """Rename the finished folder ``work`` to ``folder``, replacing what ``folder`` held: the old one is
    moved aside first and removed after, so ``folder`` is never half-written."""
    backup = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(backup, ignore_errors=True)
    if folder.exists():
        os.replace(folder, backup)
    os.replace(work, folder)
    shutil.rmtree(backup, ignore_errors=True)


def publish_folder(work: Path, final: Path) -> bool:
    """Rename the finished folder ``work`` to ``final`` unless ``final`` exists, say because another
    process published it first: True if this one did. A complete cache entry is never replaced."""
    if final.exists():
        return False
    try:
        os.rename(work, final)
    except OSError:  # another process renamed its folder there first
        if not final.is_dir():
            raise
        return False
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
