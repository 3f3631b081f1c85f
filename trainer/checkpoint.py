"""Checkpoints written atomically (temp file + rename), the last K kept.

A checkpoint holds what a resumed run needs to continue exactly: the trainable weights, the
optimizer and LR-scheduler state, the λ schedule's state and the step. Data order and random
draws are functions of (seed, step), so they need no saving.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from neurosym.errors import DataError


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(folder: Path, step: int, state: dict, keep_last: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{step:07d}.pt"
    fd, tmp = tempfile.mkstemp(prefix=".step-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        torch.save({"step": step, **state}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    for old in sorted(folder.glob("step-*.pt"))[:-keep_last]:
        old.unlink()
    return path


def latest_checkpoint(folder: Path) -> Path | None:
    found = sorted(folder.glob("step-*.pt"))
    return found[-1] if found else None


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file: name it instead of a pickle traceback
        raise DataError(f"{path}: not a readable neurosym checkpoint ({type(error).__name__}: {error})") from None


def restore_trainable(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n in weights if n not in params]
    if missing:
        raise DataError(f"checkpoint has parameters the model lacks: {missing[:3]} (another model or LoRA setting?)")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device))
