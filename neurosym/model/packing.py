"""Shared-prefix packing: every question about one premise answered from one encoding of it.

A prompt is split into the text before its question (the template's head and the premise) and the
rest (the question and the template's tail). Questions with the same head are packed into one
sequence ``head + q1 + q2 + …``: each question attends to the head and to itself, never to another
question, and its position ids continue from the end of the head, so every question sees exactly
the tokens and positions of its own separate prompt. The answer is read at each question's last
token. Both paths tokenize a prompt as one string: the head's ids are those of the full prompt up
to the split. The split comes after the head's text as rendered or, failing that, before its
trailing whitespace, which a tokenizer may join to the question's first word (" Does"); a prompt
whose tokens straddle both is packed alone, as its own prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from neurosym.errors import DataError
from neurosym.model.prompts import DEFAULT_TEMPLATE, PromptTemplate

PAD_SEGMENT = -1  # a padding column
HEAD_SEGMENT = 0  # the shared head; question i of a pack is segment i + 1
MASKABLE_ATTENTIONS = ("eager", "sdpa")  # the implementations that take a 4-D tensor mask as it is


@dataclass(frozen=True)
class Pack:
    """One sequence: a shared head's token ids and the token ids of the questions read after it."""

    head: tuple[int, ...]
    tails: tuple[tuple[int, ...], ...]
    questions: tuple[int, ...]  # the caller's index of each tail's question

    def __len__(self) -> int:
        return len(self.head) + sum(len(tail) for tail in self.tails)


@dataclass(frozen=True)
class PackedBatch:
    """Right-padded packs [B, T] with what the model needs to answer every question in them.

    ``segments`` marks each column (head 0, question i + 1, padding -1) and ``positions`` holds
    each column's position id; ``rows`` and ``columns`` [N] locate each question's last token, in
    the caller's question order.
    """

    input_ids: torch.Tensor
    positions: torch.Tensor
    segments: torch.Tensor
    rows: torch.Tensor
    columns: torch.Tensor

    @property
    def tokens(self) -> int:
        """Real (non-padding) tokens."""
        return int((self.segments != PAD_SEGMENT).sum())

    def to(self, device: torch.device | str) -> PackedBatch:
        return PackedBatch(
            *(t.to(device) for t in (self.input_ids, self.positions, self.segments, self.rows, self.columns))
        )


def split_prompts(
    tokenizer: PreTrainedTokenizerBase,
    premises: Sequence[str],
    questions: Sequence[str],
    template: PromptTemplate = DEFAULT_TEMPLATE,
    max_length: int | None = None,
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(head ids, tail ids) of each prompt; head + tail are the ids of the full prompt as one string."""
    if isinstance(premises, str) or isinstance(questions, str):
        raise DataError("split_prompts takes lists of premises and questions, not a single string")
    if len(premises) != len(questions):
        raise DataError(f"{len(premises)} premises but {len(questions)} questions")
    if not premises:
        return []
    special = template.add_special_tokens(tokenizer)
    heads = [template.head(tokenizer, p) for p in premises]
    unique_heads = list(dict.fromkeys(text for head in heads for text in (head, head.rstrip())))
    head_ids = dict(zip(unique_heads, tokenizer(unique_heads, add_special_tokens=special)["input_ids"]))
    fulls = tokenizer(
        [template.render(tokenizer, p, q) for p, q in zip(premises, questions)], add_special_tokens=special
    )["input_ids"]
    split = []
    for i, (head, full) in enumerate(zip(heads, fulls)):
        if max_length is not None and len(full) > max_length:
            raise DataError(
                f"prompt {i} is {len(full)} tokens, over max_length={max_length}; question: {questions[i]!r}"
            )
        ids = next((head_ids[h] for h in (head, head.rstrip()) if _starts(full, head_ids[h])), None)
        # a token across the split: the prompt becomes a head of its own, read at its last token
        split.append((tuple(ids), tuple(full[len(ids) :])) if ids is not None else (tuple(full), ()))
    return split


def _starts(full: list[int], head: list[int]) -> bool:
    """Whether ``head`` is a proper prefix of ``full``."""
    return len(head) < len(full) and full[: len(head)] == head


def pack(split: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], max_tokens: int | None = None) -> list[Pack]:
    """Group prompts by head into packs of at most ``max_tokens`` tokens (a longer single prompt is
    a pack of its own); packs come out in the order of their first question."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (head, _) in enumerate(split):
        groups.setdefault(head, []).append(i)
    packs = []
    for head, members in groups.items():
        tails: list[tuple[int, ...]] = []
        picked: list[int] = []
        size = len(head)
        for i in members:
            tail = split[i][1]
            if picked and max_tokens is not None and size + len(tail) > max_tokens:
                packs.append(Pack(head, tuple(tails), tuple(picked)))
                tails, picked, size = [], [], len(head)
            tails.append(tail)
            picked.append(i)
            size += len(tail)
        packs.append(Pack(head, tuple(tails), tuple(picked)))
    return packs


def token_batches(packs: Sequence[Pack], max_tokens: int) -> list[list[Pack]]:
    """Packs sorted by length and cut into batches whose padded size (rows × longest) stays within
    ``max_tokens``, so a batch pads only to packs of about its own length."""
    if max_tokens < 1:
        raise DataError(f"max_tokens must be at least 1, got {max_tokens}")
    batches: list[list[Pack]] = []
    for p in sorted(packs, key=len):
        if batches and (len(batches[-1]) + 1) * len(p) <= max_tokens:
            batches[-1].append(p)
        else:
            batches.append([p])
    return batches


def collate(packs: Sequence[Pack], pad_id: int) -> PackedBatch:
    """Right-padded tensors of ``packs``; ``rows``/``columns`` follow the packs' question indices in
    increasing order (the caller's order when the packs hold all its questions)."""
    if not packs:
        raise DataError("collate needs at least one pack")
    width = max(len(p) for p in packs)
    input_ids = torch.full((len(packs), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(packs), width), dtype=torch.long)
    segments = torch.full((len(packs), width), PAD_SEGMENT, dtype=torch.long)
    reads: list[tuple[int, int, int]] = []  # (question, row, column)
    for row, p in enumerate(packs):
        n = len(p.head)
        input_ids[row, :n] = torch.tensor(p.head, dtype=torch.long)
        positions[row, :n] = torch.arange(n)
        segments[row, :n] = HEAD_SEGMENT
        column = n
        for segment, (tail, question) in enumerate(zip(p.tails, p.questions), start=1):
            end = column + len(tail)
            input_ids[row, column:end] = torch.tensor(tail, dtype=torch.long)
            positions[row, column:end] = torch.arange(n, n + len(tail))
            segments[row, column:end] = segment
            reads.append((question, row, end - 1))  # an empty tail reads the head's last token
            column = end
    reads.sort()
    return PackedBatch(
        input_ids,
        positions,
        segments,
        torch.tensor([r for _, r, _ in reads], dtype=torch.long),
        torch.tensor([c for _, _, c in reads], dtype=torch.long),
    )


def attention_masks(
    model: PreTrainedModel, batch: PackedBatch, dtype: torch.dtype
) -> torch.Tensor | dict[str, torch.Tensor]:
    """The 4-D mask [B, 1, T, T] of ``batch`` in the form the model's attention takes, one per
    layer type (sliding-window layers measure the window in position ids, as a separate prompt does)."""
    config = model.config
    attention = config._attn_implementation
    if attention not in MASKABLE_ATTENTIONS:
        raise DataError(
            f"attention implementation {attention!r} cannot take a packed mask; use one of "
            f"{', '.join(MASKABLE_ATTENTIONS)}"
        )
    q_seg, k_seg = batch.segments[:, :, None], batch.segments[:, None, :]
    columns = torch.arange(batch.segments.shape[1], device=batch.segments.device)
    causal = columns[None, :, None] >= columns[None, None, :]
    own = (k_seg == HEAD_SEGMENT) | (k_seg == q_seg)
    padding_self = (q_seg == PAD_SEGMENT) & (columns[None, :, None] == columns[None, None, :])  # no empty row
    allowed = (causal & own & (k_seg != PAD_SEGMENT)) | padding_self
    layer_types = set(getattr(config, "layer_types", None) or ["full_attention"])
    per_layer_type = "sliding_attention" in layer_types  # such models (Gemma 2 and 3) take a mask per layer type
    masks = {}
    for layer_type in layer_types:
        if layer_type == "full_attention":
            masks[layer_type] = allowed
        elif layer_type == "sliding_attention":
            distance = batch.positions[:, :, None] - batch.positions[:, None, :]
            masks[layer_type] = allowed & ((distance < config.sliding_window) | padding_self)
        else:
            raise DataError(f"layer type {layer_type!r} of {type(model).__name__} is not supported by packing")
    masks = {name: _as_attention_mask(mask[:, None], attention, dtype) for name, mask in masks.items()}
    return masks if per_layer_type else masks["full_attention"]


def _as_attention_mask(allowed: torch.Tensor, attention: str, dtype: torch.dtype) -> torch.Tensor:
    """sdpa takes the boolean mask; eager adds it to the scores, so it becomes 0 / the dtype's minimum."""
    if attention == "sdpa":
        return allowed
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)
