"""Semi-supervised digits with and without the semantic loss of exactly-one (Xu et al. 2018, 5.1).

A few training images keep their labels; the MLP learns from them by cross-entropy, and (with the
semantic loss) from every other training image by −log P(exactly one class), the softmax outputs
read as independent beliefs, as in the paper's experiments.

    python -m examples.digits.run [key=value ...]     # from the repository root; overrides of config.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import neurosym as ns
from examples.common import CpuClock, descend, load_config, mean_interval, seeded_mlp
from neurosym.resources import constraint_path

CLASSES = 10


def labelled_subset(labels: numpy.ndarray, count: int, seed: int) -> numpy.ndarray:
    """``count`` training indices, as even over the classes as the count allows."""
    rng = numpy.random.default_rng(seed)
    per_class = [rng.permutation(numpy.flatnonzero(labels == c)) for c in range(CLASSES)]
    chosen = [group[i] for i in range(max(len(g) for g in per_class)) for group in per_class if i < len(group)]
    return numpy.array(chosen[:count])


def train(config: dict, data: dict, count: int, seed: int, semantic: bool, loss) -> float:
    x, y = data["train"]
    known = torch.from_numpy(labelled_subset(y.numpy(), count, seed))
    unlabelled = torch.ones(len(x), dtype=torch.bool)
    unlabelled[known] = False
    model, optimizer = seeded_mlp(config, x.shape[1], CLASSES, seed)
    for epoch in range(config["epochs"]):
        logits = model(x)
        objective = torch.nn.functional.cross_entropy(logits[known], y[known])
        if semantic:
            # ramped up: early on, confident guesses on unlabelled images would only confirm mistakes
            weight = config["semantic_weight"] * min(1.0, epoch / config["ramp_epochs"])
            objective = objective + weight * loss(logits[unlabelled].softmax(1)).mean()
        descend(optimizer, objective)
    with torch.no_grad():
        x_test, y_test = data["test"]
        return float((model(x_test).argmax(1) == y_test).float().mean())


def main(argv: list[str]) -> None:
    config = load_config(Path(__file__).with_name("config.yaml"), argv)
    torch.set_num_threads(1)  # small models: more threads only contend for the shared cores
    clock = CpuClock()
    images, labels = load_digits(return_X_y=True)
    splits = train_test_split(
        images / 16.0, labels, test_size=config["test_share"], random_state=config["data_seed"], stratify=labels
    )
    x_train, x_test, y_train, y_test = (torch.as_tensor(a) for a in splits)
    data = {"train": (x_train.float(), y_train), "test": (x_test.float(), y_test)}
    circuit = ns.compile(constraint_path("examples/exactly_one.ns"), {"Class": CLASSES})
    # the circuit's variables are label(c0) .. label(c9), in class order
    assert circuit.variables == [f"label(c{i})" for i in range(CLASSES)]
    loss = ns.SemanticLoss(circuit)
    results = {
        str(count): {
            method: [train(config, data, count, seed, method == "semantic", loss) for seed in config["seeds"]]
            for method in ("plain", "semantic")
        }
        for count in config["labelled"]
    }
    print(
        f"digits: {len(x_train)} training images ({', '.join(map(str, config['labelled']))} labelled), "
        f"{len(x_test)} test images, seeds {config['seeds']}; test accuracy, mean ± 95 % interval (%)"
    )
    print("| labelled | MLP | MLP + semantic loss | gain, mean ± 95 % interval of the paired differences |")
    print("| --- | --- | --- | --- |")
    for count, runs in results.items():
        gains = [s - p for p, s in zip(runs["plain"], runs["semantic"])]
        print(
            f"| {count} | {mean_interval(runs['plain'])} | {mean_interval(runs['semantic'])} | {mean_interval(gains)} |"
        )
    print(f"CPU minutes: {clock.minutes():.1f}")
    print(json.dumps({"config": config, "results": results}))


if __name__ == "__main__":
    main(sys.argv[1:])
