"""The two-row Yes/No head agrees with the full-vocabulary logits, also through LoRA, and trains."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from neurosym.errors import DataError
from neurosym.model import (
    PromptTemplate,
    YesNoHead,
    answer_logits,
    answer_tokens,
    apply_lora,
    encode_prompts,
    load_model,
    p_yes,
    tiny_gemma3,
)

PREMISES = ["A causes B.", "A causes B. B causes C. C causes Dd9.", "xQ3 causes No. No causes Yes."]
QUESTIONS = ["Does A cause B?", "Are A and Dd9 d-separated given {B, C}?", "Does Yes cause xQ3?"]


def _full_vocab_answer_logits(model, batch, ids):
    """The reference: the whole model's logits at the last position, the two answer columns."""
    position_ids = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], position_ids=position_ids
    ).logits
    return logits[:, -1, list(ids)]


@pytest.fixture()
def tiny():
    return tiny_gemma3(seed=0)


def test_answer_tokens_are_the_single_tokens_written_after_the_prompt(tiny):
    _, tokenizer = tiny
    answer = answer_tokens(tokenizer)
    assert (answer.yes_text, answer.no_text) == ("Yes", "No")
    assert tokenizer.convert_ids_to_tokens(list(answer.ids)) == ["Yes", "No"]


def test_plain_prompt_ending_in_a_colon_takes_the_spaced_answer_forms(tiny):
    _, tokenizer = tiny
    answer = answer_tokens(tokenizer, PromptTemplate(style="plain"))
    assert (answer.yes_text, answer.no_text) == (" Yes", " No")
    assert tokenizer.convert_ids_to_tokens(list(answer.ids)) == ["ĠYes", "ĠNo"]


def test_answer_words_split_into_several_tokens_are_an_error():
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    backend = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(["<pad>", *alphabet])}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    spelled = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", name_or_path="bytes-only")
    with pytest.raises(
        DataError,
        match="'bytes-only' does not write Yes and No as two distinct single tokens.*'Yes' → \\['Y', 'e', 's'\\]",
    ):
        answer_tokens(spelled, PromptTemplate(style="plain"))


@pytest.mark.parametrize("softcap", [None, 0.5])
def test_two_row_head_equals_the_full_vocabulary_logits(tiny, softcap):
    model, tokenizer = tiny
    model.config.final_logit_softcapping = softcap
    ids = answer_tokens(tokenizer).ids
    batch = encode_prompts(tokenizer, PREMISES, QUESTIONS)
    with torch.no_grad():
        head = answer_logits(model, batch["input_ids"], batch["attention_mask"], answer_ids=ids)
        full = _full_vocab_answer_logits(model, batch, ids)
    assert head.shape == (3, 2) and head.dtype == torch.float32
    assert torch.allclose(head, full, atol=1e-6, rtol=1e-5)
    if softcap is not None:
        assert head.abs().max() < softcap


def test_p_yes_is_the_two_way_softmax_and_does_not_depend_on_padding(tiny):
    model, tokenizer = tiny
    ids = answer_tokens(tokenizer).ids
    batch = encode_prompts(tokenizer, PREMISES, QUESTIONS)
    with torch.no_grad():
        probs = p_yes(model, batch["input_ids"], batch["attention_mask"], answer_ids=ids)
        logits = answer_logits(model, batch["input_ids"], batch["attention_mask"], answer_ids=ids)
        alone = [
            p_yes(model, **encode_prompts(tokenizer, [p], [q]), answer_ids=ids) for p, q in zip(PREMISES, QUESTIONS)
        ]
    assert torch.allclose(probs, logits.softmax(-1)[:, 0], atol=1e-7)
    assert torch.allclose(probs, torch.cat(alone), atol=1e-5)


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))],
)
@pytest.mark.parametrize("width", [64, 65, 97, 129])
def test_left_padded_rows_answer_as_they_do_alone(device, width):
    # On an H200 (torch 2.11, transformers 5.17) sdpa gave every padded row of a batch 65, 97, 129 or
    # 193 tokens wide one and the same P(Yes); load_model's attention="auto" takes eager on a GPU.
    model, _ = load_model("tiny", device=device)
    generator = torch.Generator().manual_seed(width)
    lengths = [width, width - 1, width - 7, width // 2, 3]
    rows = [torch.randint(7, model.config.vocab_size, (n,), generator=generator) for n in lengths]
    input_ids = torch.zeros(len(rows), width, dtype=torch.long)
    attention_mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row) :], attention_mask[i, width - len(row) :] = row, 1
    with torch.no_grad():
        batch = p_yes(model, input_ids.to(device), attention_mask.to(device), answer_ids=(1, 2)).cpu()
        alone = torch.cat(
            [
                p_yes(
                    model,
                    row[None].to(device),
                    torch.ones(1, len(row), dtype=torch.long, device=device),
                    answer_ids=(1, 2),
                ).cpu()
                for row in rows
            ]
        )
    assert len(set(batch.tolist())) == len(rows)
    assert torch.allclose(batch, alone, atol=1e-4)


def test_right_padded_batches_are_rejected(tiny):
    model, tokenizer = tiny
    batch = tokenizer(
        ["A causes B.", "A causes B. B causes C."], padding=True, padding_side="right", return_tensors="pt"
    )
    with pytest.raises(DataError, match="padded on the left"):
        answer_logits(model, batch["input_ids"], batch["attention_mask"], answer_ids=(1, 2))


def test_head_through_lora_matches_full_logits_and_gradients_reach_only_lora(tiny):
    model, tokenizer = tiny
    peft_model = apply_lora(model, r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj", "down_proj"])
    with torch.no_grad():  # move LoRA off its zero start so the adapters change the output
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    head = YesNoHead(peft_model, tokenizer)
    batch = head.encode(PREMISES, QUESTIONS)
    logits = head(batch["input_ids"], batch["attention_mask"])
    with torch.no_grad():
        full = _full_vocab_answer_logits(peft_model, batch, head.answer.ids)
        with peft_model.disable_adapter():
            base = head(batch["input_ids"], batch["attention_mask"])
    assert torch.allclose(logits.detach(), full, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(logits.detach(), base, atol=1e-4)

    loss = -torch.log(head.p_yes(batch["input_ids"], batch["attention_mask"])).mean()
    loss.backward()
    grads = {name: p.grad for name, p in peft_model.named_parameters() if p.requires_grad}
    assert grads and all("lora_" in name for name in grads)
    assert all(g is not None and g.abs().sum() > 0 for g in grads.values())
    assert all(p.grad is None for p in peft_model.parameters() if not p.requires_grad)


def test_unfrozen_embeddings_under_lora_stay_tied_and_the_head_reads_the_trained_copy(tiny):
    model, tokenizer = tiny
    peft_model = apply_lora(model, r=2, alpha=4, dropout=0.0, target_modules=["q_proj"], freeze_embeddings=False)
    head = YesNoHead(peft_model, tokenizer)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if parameter.requires_grad and "embed_tokens" in name:
                parameter[list(head.answer.ids)] += torch.randn(2, parameter.shape[1])
    batch = head.encode(PREMISES, QUESTIONS)
    logits = head(batch["input_ids"], batch["attention_mask"])
    with torch.no_grad():
        full = _full_vocab_answer_logits(peft_model, batch, head.answer.ids)
    assert torch.allclose(logits.detach(), full, atol=1e-6, rtol=1e-5)
    logits.sum().backward()
    trained = [p for name, p in peft_model.named_parameters() if p.requires_grad and "embed_tokens" in name]
    assert trained and all(p.grad is not None and p.grad.abs().sum() > 0 for p in trained)


def test_predict_batches_in_eval_mode_and_restores_the_mode(tiny):
    model, tokenizer = tiny
    head = YesNoHead(model, tokenizer)
    head.train()
    probs = head.predict(PREMISES, QUESTIONS, batch_size=2)
    assert model.training
    batch = head.encode(PREMISES, QUESTIONS)
    model.eval()
    with torch.no_grad():
        expected = head.p_yes(batch["input_ids"], batch["attention_mask"])
    assert probs.shape == (3,) and ((probs > 0) & (probs < 1)).all()
    assert torch.allclose(probs, expected, atol=1e-5)
    with pytest.raises(DataError, match="batch_size"):
        head.predict(PREMISES, QUESTIONS, batch_size=0)


def test_head_rejects_a_model_without_an_output_layer(tiny):
    model, tokenizer = tiny
    with pytest.raises(DataError, match="not a Hugging Face causal language model"):
        YesNoHead(model.model, tokenizer)
