"""The tiny Gemma 3 and its tokenizer: deterministic, Gemma-like, lossless on any node name."""

from __future__ import annotations

import string

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosym.model import load_model, save_tiny_gemma3, tiny_gemma3
from neurosym.model.tiny import build_tiny_tokenizer

NAME_CHARS = string.ascii_letters + string.digits
NAMES = st.text(alphabet=NAME_CHARS, min_size=1, max_size=3) | st.text(alphabet=NAME_CHARS, min_size=8, max_size=10)
TOKENIZER = build_tiny_tokenizer()


def test_special_tokens_have_gemma_ids_and_are_single_tokens():
    tok = TOKENIZER
    assert (tok.pad_token_id, tok.eos_token_id, tok.bos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    ids = tok("<start_of_turn>user\nhi<end_of_turn>", add_special_tokens=False)["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids("<start_of_turn>")
    assert ids[-1] == tok.convert_tokens_to_ids("<end_of_turn>")
    assert tok("hi")["input_ids"][0] == tok.bos_token_id


def test_yes_and_no_are_single_distinct_tokens_after_the_model_turn():
    for word in ("Yes", "No"):
        ids = TOKENIZER("<start_of_turn>model\n" + word, add_special_tokens=False)["input_ids"]
        assert TOKENIZER.convert_ids_to_tokens(ids[-1]) == word
        spaced = TOKENIZER("Answer: " + word, add_special_tokens=False)["input_ids"]
        assert TOKENIZER.decode(spaced[-1]) == " " + word


@settings(max_examples=200, deadline=None)
@given(st.lists(NAMES, min_size=2, max_size=2, unique=True))
def test_any_two_distinct_node_names_tokenize_differently_and_round_trip(names):
    a, b = names
    ids_a = TOKENIZER(f"{a} causes {b}.", add_special_tokens=False)["input_ids"]
    ids_b = TOKENIZER(f"{b} causes {a}.", add_special_tokens=False)["input_ids"]
    assert ids_a != ids_b
    assert TOKENIZER.unk_token_id not in ids_a
    assert TOKENIZER.decode(ids_a) == f"{a} causes {b}."


def test_tokenizer_is_identical_when_rebuilt():
    again = build_tiny_tokenizer()
    assert again.get_vocab() == TOKENIZER.get_vocab()
    text = "Given the following causal relationships:\nQx causes b9.\n\nDoes Qx cause b9?"
    assert again(text)["input_ids"] == TOKENIZER(text)["input_ids"]


def test_same_seed_same_weights_other_seed_other_weights_and_global_rng_untouched():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first, _ = tiny_gemma3(seed=7)
    assert torch.equal(torch.rand(3), expected_next)
    second, _ = tiny_gemma3(seed=7)
    other, _ = tiny_gemma3(seed=8)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(first.model.embed_tokens.weight, other.model.embed_tokens.weight)


def test_model_is_a_small_gemma3_with_the_tokenizer_vocabulary():
    model, tokenizer = tiny_gemma3()
    assert type(model).__name__ == "Gemma3ForCausalLM"
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.num_key_value_heads == 1
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert sum(p.numel() for p in model.parameters()) < 200_000


def test_saved_folder_loads_back_with_the_same_weights_and_tokenizer(tmp_path):
    folder = save_tiny_gemma3(tmp_path / "tiny", seed=3)
    loaded, tokenizer = load_model(folder)
    reference, ref_tokenizer = tiny_gemma3(seed=3)
    for (name, a), b in zip(reference.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    text = "<start_of_turn>model\nYes"
    assert tokenizer(text)["input_ids"] == ref_tokenizer(text)["input_ids"]
    assert tokenizer.chat_template == ref_tokenizer.chat_template
