"""What the examples share: their config files, data splits, the MLP and its best weights, tables of
intervals over seeds, CPU time."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path

import torch
import yaml

# two-sided 95 % Student t quantiles by degrees of freedom, for intervals over a handful of seeds
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def load_config(path: str | Path, overrides: list[str]) -> dict:
    """The YAML config, with ``key=value`` overrides (values read as YAML: ``seeds=[0]``), each of
    the type its key has in the file (an integer also serves where a float is)."""
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for item in overrides:
        key, equals, text = item.partition("=")
        if key not in config:
            raise SystemExit(f"unknown config key {key!r}; the keys: {', '.join(config)}")
        try:
            value = yaml.safe_load(text) if equals else None
        except yaml.YAMLError as error:
            raise SystemExit(f"{item!r}: the value is not YAML ({error.problem})") from None
        default = config[key]
        if not isinstance(value, type(default)) and not (type(default) is float and type(value) is int):
            raise SystemExit(f"{item!r}: {key} takes a value of type {type(default).__name__}, like {default!r}")
        config[key] = value
    return config


def mlp(inputs: int, hidden: int, layers: int, outputs: int) -> torch.nn.Sequential:
    """``layers`` hidden layers of ``hidden`` sigmoid units (as in Xu et al. 2018), then logits."""
    sizes = [inputs] + [hidden] * layers
    parts: list[torch.nn.Module] = []
    for a, b in pairwise(sizes):
        parts += [torch.nn.Linear(a, b), torch.nn.Sigmoid()]
    return torch.nn.Sequential(*parts, torch.nn.Linear(sizes[-1], outputs))


def seeded_mlp(config: dict, inputs: int, outputs: int, seed: int) -> tuple[torch.nn.Sequential, torch.optim.Adam]:
    """The config's MLP, initialised from the seed, and its Adam optimiser at the config's ``lr``."""
    torch.manual_seed(seed)
    model = mlp(inputs, config["hidden"], config["layers"], outputs)
    return model, torch.optim.Adam(model.parameters(), lr=config["lr"])


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One optimiser step down the loss's gradient."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def split_60_20_20(items: Sequence) -> dict[str, Sequence]:
    """The first 60 % for training, the next 20 % for validation, the last 20 % for the test."""
    cut = [int(0.6 * len(items)), int(0.8 * len(items))]
    return {"train": items[: cut[0]], "validation": items[cut[0] : cut[1]], "test": items[cut[1] :]}


def best_of(
    model: torch.nn.Module, train_round: Callable[[], None], rounds: int, every: int, score: Callable[[], float]
):
    """Run ``rounds`` training rounds, score the model every ``every`` rounds and after the last,
    and leave it with the weights of its best score (the first, on ties)."""
    best, best_state = -math.inf, None
    for done in range(1, rounds + 1):
        train_round()
        if done % every == 0 or done == rounds:
            current = score()
            if current > best:
                best, best_state = current, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)


def mean_interval(values: list[float]) -> str:
    """``mean ± half-width`` of the 95 % t-interval over seeds (just the mean for one seed)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{100 * mean:.1f}"
    half = _T95[len(values) - 1] * statistics.stdev(values) / math.sqrt(len(values))
    return f"{100 * mean:.1f} ± {100 * half:.1f}"


def print_table(keys: list[str], runs: dict[tuple, list[dict]], metrics: dict[str, str]) -> None:
    """A Markdown table: a row per key tuple, a column per metric (``{key: header}``), each cell the
    ``mean_interval`` of that metric over the runs (one score dict per seed)."""
    print("| " + " | ".join([*keys, *metrics.values()]) + " |")
    print("| --- " * (len(keys) + len(metrics)) + "|")
    for key, scores in runs.items():
        cells = [str(k) for k in key] + [mean_interval([s[m] for s in scores]) for m in metrics]
        print("| " + " | ".join(cells) + " |")


class CpuClock:
    """CPU minutes of this process (all threads) since it was made: the figure the docs report."""

    def __init__(self):
        self.start = time.process_time()

    def minutes(self) -> float:
        return (time.process_time() - self.start) / 60
