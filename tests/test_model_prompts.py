"""Prompt rendering (Gemma chat format by default, plain text as an option) and left-padded batches."""

from __future__ import annotations

import pytest

from neurosym.errors import DataError
from neurosym.model import DEFAULT_TEMPLATE, PromptTemplate, encode_prompts
from neurosym.model.tiny import build_tiny_tokenizer

TOKENIZER = build_tiny_tokenizer()
PREMISES = ["A causes B.", "A causes B. B causes C. C causes Dd9."]
QUESTIONS = ["Does A cause B?", "Are A and Dd9 d-separated given {B, C}?"]


def _without_chat_template():
    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = None
    return tokenizer


def test_default_prompt_is_a_gemma_user_turn_then_the_open_model_turn():
    text = DEFAULT_TEMPLATE.render(TOKENIZER, "A causes B.", "Does A cause B?")
    assert text == (
        "<bos><start_of_turn>user\n"
        "Given the following causal relationships:\nA causes B.\n\nDoes A cause B?\n"
        "Please answer with only 'Yes' or 'No'.<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_auto_style_falls_back_to_plain_text_without_a_chat_template():
    tokenizer = _without_chat_template()
    text = DEFAULT_TEMPLATE.render(tokenizer, "A causes B.", "Does A cause B?")
    assert text.endswith("Please answer with only 'Yes' or 'No'.\nAnswer:")
    assert DEFAULT_TEMPLATE.add_special_tokens(tokenizer)
    batch = encode_prompts(tokenizer, PREMISES[:1], QUESTIONS[:1])
    assert batch["input_ids"][0, 0] == tokenizer.bos_token_id  # the tokenizer adds BOS once


def test_chat_prompt_is_tokenized_with_exactly_one_bos():
    batch = encode_prompts(TOKENIZER, PREMISES[:1], QUESTIONS[:1])
    assert (batch["input_ids"] == TOKENIZER.bos_token_id).sum() == 1


def test_plain_style_ignores_the_chat_template_and_custom_text_is_used():
    template = PromptTemplate(text="{premise} Q: {question}", style="plain", plain_suffix=" A:")
    assert template.render(TOKENIZER, "A causes B.", "Does A cause B?") == "A causes B. Q: Does A cause B? A:"


def test_chat_style_without_a_template_is_an_error_naming_the_tokenizer():
    with pytest.raises(DataError, match="chat template"):
        PromptTemplate(style="chat").render(_without_chat_template(), "A causes B.", "Does A cause B?")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{premise} only", "found \\['premise'\\]"),
        ("{premise} {question} {answer}", "answer"),
        ("{premise {question}", "not a valid format string"),
    ],
)
def test_templates_must_use_exactly_premise_and_question(text, message):
    with pytest.raises(DataError, match=message):
        PromptTemplate(text=text)


def test_unknown_style_is_an_error():
    with pytest.raises(DataError, match="'json'"):
        PromptTemplate(style="json")


def test_batch_is_left_padded_so_every_prompt_ends_in_the_last_column():
    batch = encode_prompts(TOKENIZER, PREMISES, QUESTIONS)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == mask.shape and ids.shape[0] == 2
    assert mask[:, -1].all()
    assert mask[0, 0] == 0 and mask[1].all()
    assert (ids[0][mask[0] == 0] == TOKENIZER.pad_token_id).all()
    model_turn = TOKENIZER("<start_of_turn>model\n", add_special_tokens=False)["input_ids"]
    for row in ids:
        assert row[-len(model_turn) :].tolist() == model_turn
    alone = encode_prompts(TOKENIZER, PREMISES[:1], QUESTIONS[:1])["input_ids"][0]
    assert ids[0][-len(alone) :].tolist() == alone.tolist()


def test_too_long_prompt_is_an_error_not_a_truncation():
    with pytest.raises(DataError, match="prompt 1 is 64 tokens, over max_length=50"):
        encode_prompts(TOKENIZER, PREMISES, QUESTIONS, max_length=50)


@pytest.mark.parametrize(
    ("premises", "questions", "message"),
    [
        (PREMISES, QUESTIONS[:1], "2 premises but 1 questions"),
        ([], [], "at least one"),
        ("A causes B.", "Does A cause B?", "lists"),
    ],
)
def test_bad_batches_are_errors(premises, questions, message):
    with pytest.raises(DataError, match=message):
        encode_prompts(TOKENIZER, premises, questions)


def test_tokenizer_without_pad_token_is_an_error():
    tokenizer = build_tiny_tokenizer()
    tokenizer.pad_token = None
    with pytest.raises(DataError, match="no pad token"):
        encode_prompts(tokenizer, PREMISES, QUESTIONS)
