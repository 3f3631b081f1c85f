"""Which weights train: LoRA adapters or the full model, with the embeddings frozen or not."""

from __future__ import annotations

import pytest

from neurosym.errors import DataError
from neurosym.model import apply_lora, count_parameters, prepare_full_finetune, tiny_gemma3


def _trainable_names(model):
    return {name for name, p in model.named_parameters() if p.requires_grad}


def test_lora_trains_only_adapters_on_the_targeted_layers():
    model, _ = tiny_gemma3()
    total_before = count_parameters(model)[1]
    peft_model = apply_lora(model, r=4, alpha=8, dropout=0.1, target_modules=["q_proj", "v_proj"])
    names = _trainable_names(peft_model)
    assert names and all(("lora_A" in n or "lora_B" in n) and ("q_proj" in n or "v_proj" in n) for n in names)
    trainable, total = count_parameters(peft_model)
    # per layer and target: A is r × in, B is out × r; q_proj 64 → 64 (4 heads × 16), v_proj 64 → 16
    assert trainable == 2 * (4 * 64 + 64 * 4 + 4 * 64 + 16 * 4)
    assert total == total_before + trainable
    lora = peft_model.peft_config["default"]
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (4, 8, 0.1)


def test_all_linear_targets_every_projection_but_not_the_output_layer():
    model, _ = tiny_gemma3()
    names = _trainable_names(apply_lora(model, r=2))
    for projection in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert any(projection in n for n in names), projection
    assert not any("lm_head" in n or "embed_tokens" in n for n in names)


def test_unfrozen_embeddings_train_beside_lora_as_one_tied_matrix():
    model, _ = tiny_gemma3()
    peft_model = apply_lora(model, r=2, target_modules=["q_proj"], freeze_embeddings=False)
    embedding = [n for n in _trainable_names(peft_model) if "lora_" not in n]
    assert embedding and all("embed_tokens" in n or "lm_head" in n for n in embedding)
    inner = peft_model.get_base_model()
    trained_in = inner.get_input_embeddings().modules_to_save["default"].weight
    trained_out = inner.get_output_embeddings().modules_to_save["default"].weight
    assert trained_in is trained_out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"r": 0}, "rank r must be a positive integer, got 0"),
        ({"alpha": -1}, "alpha must be positive, got -1"),
        ({"dropout": 1.0}, "dropout must be in \\[0, 1\\), got 1.0"),
        ({"target_modules": []}, "target_modules is empty"),
        ({"target_modules": ["c_attn"]}, "target_modules \\['c_attn'\\] do not fit Gemma3ForCausalLM"),
    ],
)
def test_bad_lora_settings_are_errors_naming_the_value(kwargs, message):
    model, _ = tiny_gemma3()
    with pytest.raises(DataError, match=message):
        apply_lora(model, **kwargs)


def test_lora_twice_is_an_error():
    model, _ = tiny_gemma3()
    peft_model = apply_lora(model, r=2)
    with pytest.raises(DataError, match="already has adapters"):
        apply_lora(peft_model, r=2)
    with pytest.raises(DataError, match="has LoRA adapters"):
        prepare_full_finetune(peft_model)


def test_full_finetune_freezes_only_the_embeddings_by_default():
    model, _ = tiny_gemma3()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    prepare_full_finetune(model)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {"model.embed_tokens.weight"}  # lm_head is the same (tied) tensor
    trainable, total = count_parameters(model)
    assert trainable == total - model.model.embed_tokens.weight.numel()


def test_full_finetune_can_train_the_embeddings_too():
    model, _ = tiny_gemma3()
    prepare_full_finetune(model, freeze_embeddings=False)
    trainable, total = count_parameters(model)
    assert trainable == total
