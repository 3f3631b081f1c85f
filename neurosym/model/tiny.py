"""A tiny, randomly initialised Gemma 3 with a Gemma-like tokenizer, for tests and smoke runs.

The tokenizer is byte-level BPE whose merges are written out (not trained), so it is identical on
every machine: any node name falls back to bytes (distinct names never collapse into an unknown
token), while the fixed words of the causal prompts, "Yes" and "No" among them, are single tokens.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

from neurosym.model.prompts import GEMMA_CHAT_TEMPLATE

# Gemma's ids for the first four; the turn markers follow.
SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>")

# Whole words of the prompts, questions and chat turns that become single tokens (a leading space
# is part of the word, as byte-level BPE sees it). Earlier words have higher merge priority.
_WORDS = (
    "Yes",
    " Yes",
    "No",
    " No",
    "user",
    "model",
    "Given",
    " the",
    " following",
    " causal",
    " relationships",
    " causes",
    "Does",
    " Does",
    " cause",
    "Are",
    " Are",
    " and",
    " d",
    "separated",
    " given",
    "Please",
    " answer",
    " with",
    " only",
    " or",
    "Answer",
    " '",
    "'.",
    " {",
    "}?",
)


def _byte_level(text: str) -> str:
    """``text`` in the byte-level alphabet (space → Ġ, newline → Ċ, …), as the BPE model sees it."""
    ((mapped, _),) = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False).pre_tokenize_str(text)
    return mapped


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """The byte-level BPE tokenizer of the tiny model, with Gemma's special tokens and chat template."""
    vocab: dict[str, int] = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[char] = len(vocab)
    merges: list[tuple[str, str]] = []
    for word in _WORDS:
        symbols = _byte_level(word)
        prefix = symbols[0]
        for char in symbols[1:]:
            if prefix + char not in vocab:
                merges.append((prefix, char))
                vocab[prefix + char] = len(vocab)
            prefix += char
    # ignore_merges: a pre-token that is a whole vocabulary word stays whole, whatever the merge order.
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=True))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        extra_special_tokens=["<start_of_turn>", "<end_of_turn>"],
        chat_template=GEMMA_CHAT_TEMPLATE,
        padding_side="left",
        name_or_path="tiny-gemma3",
    )


def tiny_gemma3_config(vocab_size: int) -> Gemma3TextConfig:
    """Gemma 3's architecture at toy size: 2 layers (one sliding, one full attention), hidden 64.

    Special-token ids are Gemma's (pad 0, eos 1, bos 2), as in the tiny tokenizer.
    """
    return Gemma3TextConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        query_pre_attn_scalar=16,
        layer_types=["sliding_attention", "full_attention"],
        sliding_window=128,
        max_position_embeddings=1024,
        pad_token_id=SPECIAL_TOKENS.index("<pad>"),
        eos_token_id=SPECIAL_TOKENS.index("<eos>"),
        bos_token_id=SPECIAL_TOKENS.index("<bos>"),
        tie_word_embeddings=True,
    )


def tiny_gemma3(seed: int = 0) -> tuple[Gemma3ForCausalLM, PreTrainedTokenizerFast]:
    """A fresh tiny model (in eval mode, float32) and its tokenizer; the weights depend only on ``seed``.

    The global torch RNG is left as it was, so building a model does not shift a caller's randomness.
    """
    tokenizer = build_tiny_tokenizer()
    config = tiny_gemma3_config(len(tokenizer))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Gemma3ForCausalLM(config)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")]
    return model.eval(), tokenizer


def save_tiny_gemma3(folder: str | Path, seed: int = 0) -> Path:
    """Write the tiny model and tokenizer as a Hugging Face folder that ``load_model`` accepts."""
    folder = Path(folder)
    model, tokenizer = tiny_gemma3(seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
