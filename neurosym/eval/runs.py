"""What `neurosym eval` can evaluate: a trainer's run folder, a model, or a reference baseline.

A run folder (`neurosym.runs.RunFolder`, written by the trainer) holds ``final/`` — a peft LoRA adapter or a full
model, its tokenizer, and ``neurosym.json`` ``{"base_model", "lora", "prompt": {"text", "style"}}``,
whose prompt is reused so the model is asked exactly as it was trained (the default prompt when the
record has none). A LoRA run is evaluated as its adapter on its base model; the base model
``"tiny"`` is `tiny_gemma3` (seeded, so the same weights the adapter was trained on).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from neurosym.errors import ConfigError, DataError, DeviceError, RunFolderError
from neurosym.eval.predictors import BASELINE_PREFIX, HeadPredictor, Predictor, baseline
from neurosym.runs import RunFolder


@dataclass(frozen=True)
class Target:
    """A predictor and where it came from."""

    predictor: Predictor
    run: Path | None = None  # the run folder, when one was given


def load_target(spec: str, batch_size: int = 16, device: str = "auto", seed: int = 0) -> Target:
    """``baseline:NAME``, a run folder, ``"tiny"``, ``"gemma3-270m"`` or a local Hugging Face folder."""
    if spec.startswith(BASELINE_PREFIX):
        return Target(baseline(spec[len(BASELINE_PREFIX) :], seed))
    from neurosym.model import YesNoHead

    device = _device(device)
    run = RunFolder(spec)
    if run.is_run():
        meta = _read_record(run)
        model, tokenizer = _load_run_model(run.final, meta, device)
        head = YesNoHead(model, tokenizer, _template(meta))
        return Target(HeadPredictor(head, batch_size, str(run)), run.path)
    model, tokenizer = load_base(spec, device)
    return Target(HeadPredictor(YesNoHead(model, tokenizer), batch_size, spec))


def evaluate_model(model: str, files, settings, out: Path, batch_size: int = 16, device: str = "auto"):
    """What ``neurosym eval MODEL`` does: load ``model`` (see `load_target`), evaluate it on ``files``
    with ``settings`` (an `EvalSettings`) and write eval.json, eval.md and plots to ``out``.
    Returns (the result, the files written)."""
    from neurosym.eval.evaluate import evaluate
    from neurosym.eval.summary import write_eval

    target = load_target(model, batch_size=batch_size, device=device, seed=settings.seed)
    result = evaluate(target.predictor, files, settings)
    result["run"] = None if target.run is None else str(target.run)
    return result, write_eval(result, out)


def load_base(name: str, device: str):
    """(model, tokenizer) for ``"tiny"`` or anything `neurosym.model.load_model` takes."""
    from neurosym.model import load_model

    return load_model(name, device=device)


def _read_record(run: RunFolder) -> dict:
    """The run's ``final/neurosym.json``, checked for what loading the model needs."""
    meta = run.read_manifest()
    if not isinstance(meta.get("base_model"), str) or not isinstance(meta.get("lora"), bool):
        raise RunFolderError(
            f"{run.manifest} is not a run's model record (base_model must be a string and lora a boolean)"
        )
    return meta


def _load_run_model(final: Path, meta: dict, device: str):
    if not meta["lora"]:
        return load_base(str(final), device)
    from peft import PeftModel

    base = meta["base_model"]
    model, tokenizer = load_base(base, device)
    try:
        with warnings.catch_warnings():  # peft calls a transformers API that warns of its own deprecation
            warnings.simplefilter("ignore", FutureWarning)
            model = PeftModel.from_pretrained(model, final, is_trainable=False)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise DataError(
            f"cannot load the LoRA adapter in {final} onto {base!r}: {str(error).splitlines()[0]}"
        ) from None
    return model.eval(), tokenizer


def _template(meta: dict):
    """The prompt template the run trained with, from its model record."""
    from neurosym.model.prompts import DEFAULT_TEMPLATE, PromptTemplate

    prompt = meta.get("prompt")
    if not isinstance(prompt, dict):
        return DEFAULT_TEMPLATE
    return PromptTemplate(
        text=prompt.get("text", DEFAULT_TEMPLATE.text), style=prompt.get("style", DEFAULT_TEMPLATE.style)
    )


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N; got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"--device {name} asked for, but no CUDA GPU is available")
    return name
