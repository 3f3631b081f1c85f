"""The training config: one YAML file, validated by pydantic, overridable with ``--set key=value``.

Unknown keys and bad values are rejected with the key's dotted name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neurosym.atomic import atomic_write_text
from neurosym.errors import ConfigError
from neurosym.runs import RunFolder


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class LoraConfig(_Section):
    r: int = Field(32, ge=1)
    alpha: float = Field(32, gt=0)
    dropout: float = Field(0.1, ge=0, lt=1)
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]


class ModelConfig(_Section):
    name: str = "gemma3-270m"  # "gemma3-270m" (embedded), "tiny" (random test model), or a local HF folder
    lora: Optional[LoraConfig] = LoraConfig()  # null = full fine-tuning
    freeze_embeddings: bool = True
    # auto: float32 weights, with bf16 autocast on a GPU that supports it; bfloat16: bf16 weights
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    # auto: eager attention on a GPU, where sdpa failed on left-padded batches (docs/trainer.md), the
    # model's own default on a CPU; the rule of neurosym.model.load_model, which evaluation follows too
    attention: Literal["auto", "eager", "sdpa"] = "auto"


class DataConfig(_Section):
    task: Literal["transitivity", "dseparation"] = "transitivity"
    train: Optional[str] = None  # a data file; when null, `generate_train` rows are generated
    dev: Optional[str] = None
    families: Optional[list[str]] = None  # generated data: these families only (`neurosym data generate --help`)
    generate_train: int = Field(2000, ge=1)
    generate_dev: int = Field(200, ge=2)
    # generated training data: up to this many questions of each label about one premise graph
    questions_per_premise: int = Field(1, ge=1)
    # generated training data: each label's answer cases asked about equally often (neurosym.causal.cases)
    balance_cases: bool = False
    # the batch order keeps the questions about one premise together, so a step encodes it once
    batch_by_premise: bool = False
    unlabeled: Optional[str] = None  # questions whose premises feed the semantic term alone (labels ignored)
    generate_unlabeled: int = Field(0, ge=0)  # generated questions whose premises feed it too (labels dropped)
    unlabeled_batch_size: Optional[int] = Field(None, ge=1)  # per micro-batch; null = optim.batch_size
    seed: int = 0


class PromptConfig(_Section):
    template: Optional[str] = None  # the user text with {premise} and {question}; null = the default
    style: Literal["auto", "chat", "plain"] = "auto"  # auto: the chat template when the tokenizer has one


class OptimConfig(_Section):
    lr: float = Field(2e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    # the most padded tokens one forward pass reads; a micro-batch's packed premises beyond it go in
    # further passes, each backpropagated on its share of the loss (null: one pass a micro-batch)
    max_tokens: Optional[int] = Field(None, ge=1)
    max_steps: int = Field(200, ge=1)
    warmup_steps: int = Field(0, ge=0)
    # the learning rate after warm-up: held, or decayed to min_lr_ratio × lr at max_steps
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    grad_clip: float = Field(1.0, gt=0)


class LambdaConfig(_Section):
    """λ(t): constant, linear (start→end), cosine (start→end), warmup_hold, or adaptive."""

    schedule: Literal["constant", "linear", "cosine", "warmup_hold", "adaptive"] = "linear"
    start: float = Field(0.05, ge=0)
    end: float = Field(0.30, ge=0)
    warmup_steps: int = Field(0, ge=0)
    # adaptive: multiply λ by `up` when the monitor sees drift, by `down` when it recovers
    up: float = Field(2.0, gt=1)
    down: float = Field(0.5, gt=0, lt=1)
    max: float = Field(2.0, gt=0)
    yes_rate_band: float = Field(0.15, gt=0, lt=0.5)  # drift: |dev Yes-rate − label Yes-rate| > band
    violation_rise: float = Field(0.05, ge=0)  # drift: violation rate rose by more than this
    # "any": a Yes-rate outside the band is drift; "against_pull": only when the semantic term, at the
    # dev beliefs, pulls the Yes-rate back toward the labels' (more λ would deepen the drift otherwise)
    yes_drift: Literal["any", "against_pull"] = "any"


class SemanticConfig(_Section):
    enabled: bool = True
    constraints: Optional[str] = None  # default: constraints/causal/<task>.ns
    k: int = Field(3, ge=2, le=6)
    subsets_per_example: int = Field(1, ge=1)
    max_queries: Optional[int] = Field(None, ge=1)  # ask at most this many of a subset's queries
    lam: LambdaConfig = LambdaConfig()


class EvalConfig(_Section):
    interval: int = Field(25, ge=1)
    batch_size: int = Field(32, ge=1)
    subsets: int = Field(32, ge=1)  # sampled subsets for the constraint-violation rate
    # the final model: the weights after the last step, or those of the best dev check (the earlier
    # one on a tie)
    select: Literal["last", "best"] = "last"
    # what "best" means for select and patience: the highest balanced accuracy, or the lowest
    # log_loss (mean -log P(the gold answer)), which still tells checks apart once accuracy saturates
    select_by: Literal["balanced_accuracy", "log_loss"] = "balanced_accuracy"
    # with select: best, stop once this many dev checks in a row bring no better score
    patience: Optional[int] = Field(None, ge=1)

    @model_validator(mode="after")
    def _patience_keeps_the_best(self):
        if self.patience is not None and self.select != "best":
            raise ValueError("eval.patience stops at a dev check that is not the best: it needs eval.select: best")
        return self


class CheckpointConfig(_Section):
    every: int = Field(50, ge=1)
    keep_last: int = Field(2, ge=1)


class TrainConfig(_Section):
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    prompt: PromptConfig = PromptConfig()
    optim: OptimConfig = OptimConfig()
    semantic: SemanticConfig = SemanticConfig()
    eval: EvalConfig = EvalConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    output_dir: str = "runs/run"
    overwrite: bool = False  # start afresh in a run folder that already holds a run
    plots: bool = True
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    progress: bool = True  # the bar shows only on a terminal, never under CI

    def run_folder(self) -> RunFolder:
        return RunFolder(self.output_dir)


def load_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """Read a YAML config (or the defaults when ``path`` is None) and apply ``key=value`` overrides."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as error:
            raise ConfigError(f"cannot read config {path}: {error}") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
            raise ConfigError(f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: a config must be a mapping of sections, got {type(raw).__name__}")
    set_by: dict[tuple[str, ...], str] = {}  # the --set item each overridden key came from, for errors
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value (e.g. optim.lr=1e-4), got {item!r}")
        keys = tuple(k.strip() for k in key.split("."))
        _assign(raw, keys, _override_value(item, value), item)
        set_by[keys] = item
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        source = str(path) if path is not None else "config"
        raise ConfigError("; ".join(_problem(e, source, set_by) for e in error.errors())) from None


def _override_value(item: str, value: str):
    """The YAML value of a --set item; an empty value is null."""
    if not value.strip():
        return None
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at column {len(item) - len(value) + mark.column + 1}" if mark else ""
        raise ConfigError(
            f"--set {item}: the value is not valid YAML{where} ({getattr(error, 'problem', error)}); "
            "quote a string that starts with { or [ or holds ': ' (e.g. key='\"{premise}\"')"
        ) from None


def _problem(error: dict, source: str, set_by: dict[tuple[str, ...], str]) -> str:
    """One validation error, prefixed by where the bad key or value came from: the file or a --set."""
    loc = tuple(str(p) for p in error["loc"])
    for keys, item in set_by.items():
        if loc[: len(keys)] == keys or (error["type"] == "extra_forbidden" and keys[: len(loc)] == loc):
            source = f"--set {item}"
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        return f"{source}: {key}: unknown key"
    return f"{source}: {key}: {error['msg']} (got {error['input']!r})"


def _assign(raw: dict, keys: tuple[str, ...], value, item: str) -> None:
    node = raw
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {item!r}: {key!r} is not a section")
        node = child
    node[keys[-1]] = value


def dump_config(config: TrainConfig, path: Path) -> None:
    atomic_write_text(path, yaml.safe_dump(config.model_dump(), sort_keys=False, allow_unicode=True))


def changed_keys(old: BaseModel, new: BaseModel, prefix: str = "") -> list[str]:
    """Dotted names of the settings that differ between two configs (or sections)."""
    keys = []
    for name in type(new).model_fields:
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        if isinstance(before, BaseModel) and isinstance(after, BaseModel):
            keys += changed_keys(before, after, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys
