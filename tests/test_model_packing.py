"""Shared-prefix packing answers every question exactly as its own prompt would, gradients included."""

from __future__ import annotations

import pytest
import torch

from neurosym.causal import generate
from neurosym.errors import DataError
from neurosym.model import (
    GEMMA_ALIAS,
    PromptTemplate,
    YesNoHead,
    answer_logits,
    load_model,
    packed_answer_logits,
    tiny_gemma3,
)
from neurosym.model.packing import Pack, collate, pack, split_prompts, token_batches
from neurosym.resources import cache_dir

CHAIN = " ".join(f"N{i} causes N{i + 1}." for i in range(30))  # longer than the tiny model's 128-token window
PREMISES = [CHAIN] * 5 + ["A causes B."] + [CHAIN[:60].rsplit(" ", 1)[0]] * 2
QUESTIONS = [
    "Does N0 cause N30?",
    "Are N2 and N29 d-separated given {N7, N12}?",
    "Does N30 cause N0?",
    "Does N5 cause N6?",
    "Are N1 and N3 d-separated?",
    "Does A cause B?",
    "Does N1 cause N3?",
    "Does N3 cause N1?",
]
ATTENTIONS = ("eager", "sdpa")


def _separate_p_yes(head: YesNoHead, premises, questions) -> torch.Tensor:
    """The reference: each question as its own left-padded prompt."""
    return torch.cat([head.p_yes(*head.encode([p], [q]).values()) for p, q in zip(premises, questions)])


def _many_questions(questions, per_premise: int) -> tuple[list[str], list[str]]:
    """Up to ``per_premise`` questions about each question's premise (`Question.premise_questions`)."""
    pairs = [(q.premise, text) for q in questions for text in q.premise_questions(per_premise)]
    return [p for p, _ in pairs], [t for _, t in pairs]


@pytest.fixture(params=ATTENTIONS)
def tiny_head(request):
    model, tokenizer = tiny_gemma3(seed=0)
    model.set_attn_implementation(request.param)
    return YesNoHead(model, tokenizer)


def test_prompt_head_and_tail_tokenize_as_the_full_prompt(tiny_head):
    split = split_prompts(tiny_head.tokenizer, PREMISES, QUESTIONS, tiny_head.template)
    full = tiny_head.encode(PREMISES, QUESTIONS)
    for (head, tail), ids, mask in zip(split, full["input_ids"], full["attention_mask"]):
        assert list(head + tail) == ids[mask.bool()].tolist()
    assert len({head for head, _ in split}) == 3  # one head per premise


def test_packed_p_yes_equals_separate_prompts_past_the_sliding_window(tiny_head):
    batch = tiny_head.pack(PREMISES, QUESTIONS)
    assert batch.input_ids.shape[0] == 3 and int(batch.positions.max()) > 128
    assert torch.allclose(tiny_head.p_yes(batch), _separate_p_yes(tiny_head, PREMISES, QUESTIONS), atol=1e-5, rtol=0)


def test_a_straddling_token_makes_the_prompt_its_own_pack(tiny_head):
    glued = PromptTemplate(text="{premise}{question}", style="plain")  # "A cause" + "s?" tokenizes as "A causes?"
    head = YesNoHead(tiny_head.model, tiny_head.tokenizer, glued)
    premises, questions = ["A cause"] * 3, ["s?", "Does A cause B?", "Does B cause A?"]
    split = split_prompts(head.tokenizer, premises, questions, glued)
    for (ids, tail), question in zip(split, questions):
        assert list(ids + tail) == head.tokenizer("A cause" + question + glued.plain_suffix)["input_ids"]
    assert any(not tail for _, tail in split)  # at least one straddles
    assert torch.allclose(
        head.p_yes(head.pack(premises, questions)), _separate_p_yes(head, premises, questions), atol=1e-5, rtol=0
    )


def test_a_question_after_a_space_still_shares_its_premise(tiny_head):
    spaced = PromptTemplate(text="{premise} {question}", style="plain")  # the tokenizer joins " Does"
    head = YesNoHead(tiny_head.model, tiny_head.tokenizer, spaced)
    split = split_prompts(head.tokenizer, PREMISES, QUESTIONS, spaced)
    for (ids, tail), premise, question in zip(split, PREMISES, QUESTIONS):
        assert (
            tail and list(ids + tail) == head.tokenizer(spaced.render(head.tokenizer, premise, question))["input_ids"]
        )
    batch = head.pack(PREMISES, QUESTIONS)
    assert batch.input_ids.shape[0] == 3  # one row per premise
    assert torch.allclose(head.p_yes(batch), _separate_p_yes(head, PREMISES, QUESTIONS), atol=1e-5, rtol=0)


def test_predict_packs_within_a_token_budget_and_keeps_the_question_order(tiny_head):
    expected = _separate_p_yes(tiny_head, PREMISES, QUESTIONS)
    split = split_prompts(tiny_head.tokenizer, PREMISES, QUESTIONS, tiny_head.template)
    budget = max(len(h) + len(t) for h, t in split) + 10
    batches = token_batches(pack(split, budget), budget)
    assert len(batches) > 3 and all(len(b) * max(map(len, b)) <= budget for b in batches)
    assert torch.allclose(tiny_head.predict(PREMISES, QUESTIONS, max_tokens=budget), expected, atol=1e-5, rtol=0)
    assert torch.allclose(tiny_head.predict(PREMISES, QUESTIONS), expected, atol=1e-5, rtol=0)
    assert tiny_head.predict([], []).shape == (0,)


def test_packed_gradients_equal_the_unpacked_gradients(tiny_head):
    tiny_head.train()
    target = torch.tensor([i % 2 for i in range(len(QUESTIONS))])

    def grads(logits):
        tiny_head.zero_grad()
        torch.nn.functional.cross_entropy(logits, target).backward()
        return [p.grad.clone() for p in tiny_head.parameters()]

    packed = grads(tiny_head(tiny_head.pack(PREMISES, QUESTIONS)))
    batch = tiny_head.encode(PREMISES, QUESTIONS)
    unpacked = grads(tiny_head(batch["input_ids"], batch["attention_mask"]))
    for a, b in zip(packed, unpacked):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_a_padded_batch_of_packs_of_different_lengths_answers_each_alone(tiny_head):
    split = split_prompts(tiny_head.tokenizer, PREMISES, QUESTIONS, tiny_head.template)
    packs = pack(split)
    together = tiny_head.p_yes(collate(packs, tiny_head.tokenizer.pad_token_id))
    alone = torch.cat([tiny_head.p_yes(collate([p], tiny_head.tokenizer.pad_token_id)) for p in packs])
    order = [i for p in packs for i in p.questions]
    assert torch.allclose(together[order], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))],
)
@pytest.mark.parametrize("width", [64, 65, 97, 129])
def test_sdpa_packs_padded_to_the_widths_of_the_gpu_fault_answer_as_they_do_alone(device, width):
    # The widths at which an H200's sdpa gave left-padded rows one shared answer (docs/evaluation.md).
    model, _ = load_model("tiny", device=device, attention="sdpa")
    generator = torch.Generator().manual_seed(width)

    def ids(n):
        return tuple(torch.randint(7, model.config.vocab_size, (n,), generator=generator).tolist())

    packs = [
        Pack(ids(width - 9), (ids(4), ids(5)), (0, 1)),
        Pack(ids(width // 2), (ids(3),), (2,)),
        Pack(ids(2), (ids(1), ids(3), ids(2)), (3, 4, 5)),
    ]
    with torch.no_grad():
        together = packed_answer_logits(model, collate(packs, 0).to(device), answer_ids=(1, 2)).cpu()
        alone = torch.cat(
            [packed_answer_logits(model, collate([p], 0).to(device), answer_ids=(1, 2)).cpu() for p in packs]
        )
        separate = torch.cat(
            [
                answer_logits(
                    model,
                    torch.tensor([p.head + tail], device=device),
                    torch.ones(1, len(p.head) + len(tail), dtype=torch.long, device=device),
                    answer_ids=(1, 2),
                ).cpu()
                for p in packs
                for tail in p.tails
            ]
        )
    assert collate(packs, 0).input_ids.shape[1] == width
    assert len(set(together[:, 0].tolist())) == 6
    assert torch.allclose(together, alone, atol=1e-4) and torch.allclose(together, separate, atol=1e-4)


def test_answer_logits_are_float32_under_bf16_autocast(tiny_head):
    batch = tiny_head.pack(PREMISES, QUESTIONS)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = tiny_head(batch)
    assert logits.dtype == torch.float32
    assert (logits[:, 0] != logits[:, 1]).all()  # bf16 rows would tie for an untrained model


def test_packing_errors_name_the_offending_value(tiny_head):
    with pytest.raises(DataError, match="prompt 0 is .* tokens, over max_length=5"):
        split_prompts(tiny_head.tokenizer, PREMISES[:1], QUESTIONS[:1], tiny_head.template, max_length=5)
    with pytest.raises(DataError, match="max_tokens must be at least 1, got 0"):
        token_batches([], 0)
    with pytest.raises(DataError, match="pack needs at least one question"):
        tiny_head.pack([], [])
    tiny_head.model.set_attn_implementation("flex_attention")
    with pytest.raises(DataError, match="attention implementation 'flex_attention' cannot take a packed mask"):
        tiny_head(tiny_head.pack(PREMISES, QUESTIONS))


_GEMMA = cache_dir() / "models" / GEMMA_ALIAS / "neurosym-model.json"


@pytest.mark.slow
@pytest.mark.skipif(not _GEMMA.is_file(), reason="the converted Gemma 3 270M is not in the cache")
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_gemma3_270m_packed_p_yes_equals_separate_prompts(attention):
    model, tokenizer = load_model(GEMMA_ALIAS, attention=attention)
    head = YesNoHead(model, tokenizer)
    longest = []
    for task in ("transitivity", "dseparation"):
        questions = generate(task, "eval", 40, seed=3)
        longest += sorted(questions, key=lambda q: len(q.premise) + len(q.question))[-2:]  # the longest prompts
        longest += questions[:1]  # and a premise with one question
    premises, questions = _many_questions(longest[:-1], per_premise=6)
    premises, questions = premises + [longest[-1].premise], questions + [longest[-1].question]
    split = split_prompts(tokenizer, premises, questions, head.template)
    full = head.encode(premises, questions)
    for (h, t), ids, mask in zip(split, full["input_ids"], full["attention_mask"]):
        assert t and list(h + t) == ids[mask.bool()].tolist()  # a clean split: today's tokens, packed
    with torch.no_grad():
        assert torch.allclose(
            head.p_yes(head.pack(premises, questions)), _separate_p_yes(head, premises, questions), atol=1e-4, rtol=0
        )
