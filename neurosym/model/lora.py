"""Which weights train: LoRA adapters via peft, or full fine-tuning, each with the embeddings frozen or not.

The embedding matrix is most of a small model's weights (170M of Gemma 3 270M's 268M) and the
answer head reads only two of its rows, so it is frozen by default.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import PreTrainedModel

from neurosym.errors import DataError


def _embedding_names(model: PreTrainedModel) -> list[str]:
    """Module names of the input and (if a separate module) output embeddings, e.g. embed_tokens, lm_head."""
    wanted = [model.get_input_embeddings(), model.get_output_embeddings()]
    names = []
    for module in wanted:
        for name, candidate in model.named_modules():
            if candidate is module and module is not None:
                names.append(name.rsplit(".", 1)[-1])
                break
    return list(dict.fromkeys(names))


def _embedding_parameters(model: PreTrainedModel) -> list[torch.nn.Parameter]:
    modules = [model.get_input_embeddings(), model.get_output_embeddings()]
    return [m.weight for m in modules if m is not None]


def apply_lora(
    model: PreTrainedModel,
    r: int = 8,
    alpha: float = 16,
    dropout: float = 0.05,
    target_modules: str | Sequence[str] = "all-linear",
    freeze_embeddings: bool = True,
) -> PeftModel:
    """Wrap ``model`` with LoRA adapters (the base weights frozen); returns the peft model.

    ``target_modules`` is a list of module names (``["q_proj", "v_proj"]``) or ``"all-linear"``
    (every linear layer but the output layer). With ``freeze_embeddings=False`` the embeddings
    train in full too, as peft ``modules_to_save`` (tied input/output embeddings stay tied).
    The model is modified in place.
    """
    if isinstance(model, PeftModel):
        raise DataError("the model already has adapters; apply_lora takes a plain Hugging Face model")
    if not isinstance(r, int) or r < 1:
        raise DataError(f"LoRA rank r must be a positive integer, got {r!r}")
    if not alpha > 0:
        raise DataError(f"LoRA alpha must be positive, got {alpha!r}")
    if not 0 <= dropout < 1:
        raise DataError(f"LoRA dropout must be in [0, 1), got {dropout!r}")
    if isinstance(target_modules, str):
        targets: str | list[str] = target_modules
    else:
        targets = list(target_modules)
        if not targets:
            raise DataError("LoRA target_modules is empty")
    tied = model.get_output_embeddings() is not None and (
        model.get_output_embeddings().weight is model.get_input_embeddings().weight
    )
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        modules_to_save=None if freeze_embeddings else _embedding_names(model),
        ensure_weight_tying=not freeze_embeddings and tied,
        task_type="CAUSAL_LM",
    )
    try:
        with warnings.catch_warnings():
            # peft asks transformers a deprecated question; nothing a user can change.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, config)
    except ValueError as error:
        raise DataError(f"LoRA target_modules {target_modules!r} do not fit {type(model).__name__}: {error}") from None


def prepare_full_finetune(model: PreTrainedModel, freeze_embeddings: bool = True) -> PreTrainedModel:
    """Make every weight trainable except, by default, the input and output embeddings; returns ``model``."""
    if isinstance(model, PeftModel):
        raise DataError("the model has LoRA adapters; full fine-tuning takes a plain Hugging Face model")
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    if freeze_embeddings:
        for parameter in _embedding_parameters(model):
            parameter.requires_grad_(False)
    return model


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; a tied tensor counts once (``parameters()`` deduplicates)."""
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters)
