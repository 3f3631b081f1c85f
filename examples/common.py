"""What the examples share: their config files, the MLP, intervals over seeds, CPU time."""

from __future__ import annotations

import math
import statistics
import time
from itertools import pairwise
from pathlib import Path

import torch
import yaml

# two-sided 95 % Student t quantiles by degrees of freedom, for intervals over a handful of seeds
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def load_config(path: str | Path, overrides: list[str]) -> dict:
    """The YAML config, with ``key=value`` overrides (values read as YAML: ``seeds=[0]``)."""
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for item in overrides:
        key, _, value = item.partition("=")
        if key not in config:
            raise SystemExit(f"unknown config key {key!r}; the keys: {', '.join(config)}")
        config[key] = yaml.safe_load(value)
    return config


def mlp(inputs: int, hidden: int, layers: int, outputs: int) -> torch.nn.Sequential:
    """``layers`` hidden layers of ``hidden`` sigmoid units (as in Xu et al. 2018), then logits."""
    sizes = [inputs] + [hidden] * layers
    parts: list[torch.nn.Module] = []
    for a, b in pairwise(sizes):
        parts += [torch.nn.Linear(a, b), torch.nn.Sigmoid()]
    return torch.nn.Sequential(*parts, torch.nn.Linear(sizes[-1], outputs))


def mean_interval(values: list[float]) -> str:
    """``mean ± half-width`` of the 95 % t-interval over seeds (just the mean for one seed)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{100 * mean:.1f}"
    half = _T95[len(values) - 1] * statistics.stdev(values) / math.sqrt(len(values))
    return f"{100 * mean:.1f} ± {100 * half:.1f}"


class CpuClock:
    """CPU minutes of this process (all threads) since it was made: the figure the docs report."""

    def __init__(self):
        self.start = time.process_time()

    def minutes(self) -> float:
        return (time.process_time() - self.start) / 60
