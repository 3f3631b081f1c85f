"""The Yes/No answer head: P(Yes) from two rows of the output embedding, never the full vocabulary.

The full-vocabulary projection (262k rows for Gemma 3) at every position dominates a forward pass of
a small model; the answer needs only the last position and two rows of ``lm_head.weight``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import BatchEncoding, PreTrainedModel, PreTrainedTokenizerBase

from neurosym.errors import DataError
from neurosym.model.packing import (
    PackedBatch,
    attention_masks,
    collate,
    pack,
    split_prompts,
    token_batches,
)
from neurosym.model.prompts import DEFAULT_TEMPLATE, PromptTemplate, encode_prompts


@dataclass(frozen=True)
class AnswerTokens:
    """The ids the model writes for Yes and No at the answer position, and their text forms."""

    yes_id: int
    no_id: int
    yes_text: str
    no_text: str

    @property
    def ids(self) -> tuple[int, int]:
        return (self.yes_id, self.no_id)


def answer_tokens(tokenizer: PreTrainedTokenizerBase, template: PromptTemplate = DEFAULT_TEMPLATE) -> AnswerTokens:
    """Resolve Yes/No as the single token each becomes right after a rendered prompt.

    Both the bare ("Yes") and the spaced (" Yes") forms are tried, the natural one first: bare after
    a prompt ending in whitespace (Gemma's ``model\\n``), spaced otherwise (``Answer:``).
    """
    prompt = template.render(tokenizer, "A causes B.", "Does A cause B?")
    special = template.add_special_tokens(tokenizer)
    base = tokenizer(prompt, add_special_tokens=special)["input_ids"]
    leads = ("", " ") if prompt[-1:].isspace() else (" ", "")
    tried = []
    for lead in leads:
        found = {}
        for word in ("Yes", "No"):
            ids = tokenizer(prompt + lead + word, add_special_tokens=special)["input_ids"]
            extra = ids[len(base) :] if ids[: len(base)] == base else None
            if extra is not None and len(extra) == 1:
                found[word] = extra[0]
            else:
                pieces = tokenizer.convert_ids_to_tokens(extra) if extra is not None else "a retokenized prompt"
                tried.append(f"{lead + word!r} → {pieces}")
        if len(found) == 2 and found["Yes"] != found["No"]:
            return AnswerTokens(found["Yes"], found["No"], lead + "Yes", lead + "No")
        if len(found) == 2:
            tried.append(f"{lead + 'Yes'!r} and {lead + 'No'!r} → the same id {found['Yes']}")
    raise DataError(
        f"tokenizer {tokenizer.name_or_path!r} does not write Yes and No as two distinct single tokens "
        f"after the prompt: {'; '.join(tried)}"
    )


def _causal_lm(model: torch.nn.Module) -> PreTrainedModel:
    """The Hugging Face causal LM inside ``model`` (a PEFT wrapper is looked through; LoRA stays in place)."""
    get_base = getattr(model, "get_base_model", None)
    inner = get_base() if callable(get_base) else model
    if not isinstance(inner, PreTrainedModel) or inner.get_output_embeddings() is None:
        raise DataError(f"{type(model).__name__} is not a Hugging Face causal language model with an output layer")
    return inner


def _answer_rows(lm_head: torch.nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The Yes/No rows of the output layer's weight (and bias), for a plain or PEFT-wrapped layer."""
    if hasattr(lm_head, "lora_A"):
        raise DataError(
            "LoRA on the output layer is not supported by the two-row answer head; leave lm_head out of target_modules"
        )
    # peft's modules_to_save keeps a trainable copy next to the original; the copy is what runs.
    copies = getattr(lm_head, "modules_to_save", None)
    if copies is not None and lm_head.active_adapters:
        lm_head = copies[lm_head.active_adapters[0]]
    bias = getattr(lm_head, "bias", None)
    return lm_head.weight.index_select(0, ids), bias.index_select(0, ids) if bias is not None else None


def answer_logits(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    answer_ids: Sequence[int],
) -> torch.Tensor:
    """Logits [B, 2] of (Yes, No) at the last position of left-padded prompts, in float32.

    Equal to the full model's logits at those two vocabulary columns (final norm included, since the
    base transformer returns normed states; Gemma's final logit softcapping applied when configured).
    Positions are counted from each prompt's first real token, so padding does not shift them.
    """
    if input_ids.shape != attention_mask.shape or input_ids.dim() != 2:
        raise DataError(
            f"input_ids {tuple(input_ids.shape)} and attention_mask {tuple(attention_mask.shape)} must be equal [B, T] shapes"
        )
    if not bool(attention_mask[:, -1].all()):
        raise DataError("the last column of attention_mask has padding; prompts must be padded on the left")
    lm = _causal_lm(model)
    position_ids = (attention_mask.long().cumsum(dim=-1) - 1).clamp(min=0)
    out = lm.base_model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
    return _two_row_logits(lm, out[0][:, -1], answer_ids)


def packed_answer_logits(model: torch.nn.Module, batch: PackedBatch, *, answer_ids: Sequence[int]) -> torch.Tensor:
    """Logits [N, 2] of (Yes, No) for every question of a packed batch, in its question order, in
    float32: equal to `answer_logits` of each question's separate prompt."""
    lm = _causal_lm(model)
    masks = attention_masks(lm, batch, next(lm.parameters()).dtype)
    out = lm.base_model(input_ids=batch.input_ids, attention_mask=masks, position_ids=batch.positions, use_cache=False)
    return _two_row_logits(lm, out[0][batch.rows, batch.columns], answer_ids)


def _two_row_logits(lm: PreTrainedModel, hidden: torch.Tensor, answer_ids: Sequence[int]) -> torch.Tensor:
    """(Yes, No) logits [N, 2] of final hidden states [N, H], computed in float32: in bf16 an
    undecided model's two logits round to exact ties."""
    ids = torch.as_tensor(list(answer_ids), dtype=torch.long, device=hidden.device)
    weight, bias = _answer_rows(lm.get_output_embeddings(), ids)
    with torch.autocast(hidden.device.type, enabled=False):
        logits = F.linear(hidden.float(), weight.float(), bias.float() if bias is not None else None)
    cap = getattr(lm.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def p_yes(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    answer_ids: Sequence[int],
) -> torch.Tensor:
    """P(Yes) [B]: the softmax over the two answer logits, i.e. sigmoid(logit_yes − logit_no)."""
    return p_yes_from_logits(answer_logits(model, input_ids, attention_mask, answer_ids=answer_ids))


def p_yes_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """P(Yes) [B] from (Yes, No) logits [B, 2]: the two-way softmax, as a sigmoid of the margin."""
    return torch.sigmoid(logits[:, 0] - logits[:, 1])


class YesNoHead(torch.nn.Module):
    """A model with its tokenizer, prompt template and resolved answer tokens, ready to give P(Yes).

    The model is a submodule, so ``head.train()``, ``head.to(device)`` and ``head.parameters()``
    reach it.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        template: PromptTemplate = DEFAULT_TEMPLATE,
    ):
        super().__init__()
        _causal_lm(model)
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.answer = answer_tokens(tokenizer, template)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, premises: Sequence[str], questions: Sequence[str], max_length: int | None = None) -> BatchEncoding:
        """Left-padded prompt tensors on the model's device."""
        return encode_prompts(self.tokenizer, premises, questions, self.template, max_length).to(self.device)

    def pack(self, premises: Sequence[str], questions: Sequence[str], max_length: int | None = None) -> PackedBatch:
        """One packed batch of all the questions (one row per premise), on the model's device."""
        if not premises:
            raise DataError("pack needs at least one question")
        split = split_prompts(self.tokenizer, premises, questions, self.template, max_length)
        return collate(pack(split), self.tokenizer.pad_token_id).to(self.device)

    def pack_batches(
        self,
        premises: Sequence[str],
        questions: Sequence[str],
        max_tokens: int | None = None,
        *,
        batch_size: int = 16,
        whole_premises: bool = False,
    ) -> list[tuple[list[int], PackedBatch]]:
        """The questions in packed batches of at most ``max_tokens`` padded tokens (None: what
        ``batch_size`` of the longest separate prompts take), each with its questions' indices in
        order. A premise whose questions do not fit is split over several packs, unless
        ``whole_premises`` keeps them in one batch (so a loss over them can be taken batch by batch)."""
        split = split_prompts(self.tokenizer, premises, questions, self.template)
        if not split:
            return []
        budget = max_tokens or batch_size * max(len(head) + len(tail) for head, tail in split)
        packs = pack(split, None if whole_premises else budget)
        return [
            (sorted(i for p in packs for i in p.questions), collate(packs, self.tokenizer.pad_token_id).to(self.device))
            for packs in token_batches(packs, budget)
        ]

    def forward(self, batch: PackedBatch | torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(Yes, No) logits [N, 2] of a `PackedBatch`, or of left-padded ``input_ids`` and ``attention_mask``."""
        if isinstance(batch, PackedBatch):
            return packed_answer_logits(self.model, batch, answer_ids=self.answer.ids)
        if attention_mask is None:
            raise DataError("input_ids need their attention_mask")
        return answer_logits(self.model, batch, attention_mask, answer_ids=self.answer.ids)

    def p_yes(self, batch: PackedBatch | torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return p_yes_from_logits(self(batch, attention_mask))

    @torch.no_grad()
    def predict(
        self, premises: Sequence[str], questions: Sequence[str], batch_size: int = 16, max_tokens: int | None = None
    ) -> torch.Tensor:
        """P(Yes) for many questions, in eval mode (the model's mode is restored after).

        Questions about one premise are packed into one sequence; packs are batched by length up to
        ``max_tokens`` padded tokens a batch, by default what ``batch_size`` of the longest separate
        prompts would take.
        """
        if batch_size < 1:
            raise DataError(f"batch_size must be at least 1, got {batch_size}")
        if len(premises) != len(questions):
            raise DataError(f"{len(premises)} premises but {len(questions)} questions")
        was_training = self.model.training
        self.model.eval()
        answers = torch.empty(len(premises))
        try:
            for picked, batch in self.pack_batches(premises, questions, max_tokens, batch_size=batch_size):
                answers[torch.tensor(picked)] = self.p_yes(batch).float().cpu()
        finally:
            self.model.train(was_training)
        return answers


def length_batches(premises: Sequence[str], questions: Sequence[str], batch_size: int) -> list[list[int]]:
    """Question indices of length-sorted batches of separate prompts (by the characters of premise +
    question): how `YesNoHead.predict` batched before packing, which bench/bench_throughput.py and
    results/gpu/unaffected.py rebuild."""
    order = sorted(range(len(premises)), key=lambda i: len(premises[i]) + len(questions[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
