"""The model layer: loading causal LMs, prompts, the two-row Yes/No answer head, LoRA.

model, tokenizer = load_model("gemma3-270m")          # or a local Hugging Face folder
model = apply_lora(model, r=8, alpha=16, dropout=0.05)
head = YesNoHead(model, tokenizer)
batch = head.pack(premises, questions)   # one sequence per premise, its questions after it
probs = head.p_yes(batch)                 # [N], differentiable, in question order
"""

from neurosym.model.head import (
    AnswerTokens,
    YesNoHead,
    answer_logits,
    answer_tokens,
    length_batches,
    p_yes,
    p_yes_from_logits,
    packed_answer_logits,
)
from neurosym.model.loading import GEMMA_ALIAS, TINY_ALIAS, convert_gguf, gemma3_270m_folder, load_model
from neurosym.model.lora import apply_lora, count_parameters, prepare_full_finetune
from neurosym.model.packing import PackedBatch
from neurosym.model.prompts import (
    DEFAULT_TEMPLATE,
    DEFAULT_USER_TEXT,
    GEMMA_CHAT_TEMPLATE,
    PromptTemplate,
    encode_prompts,
)
from neurosym.model.tiny import save_tiny_gemma3, tiny_gemma3

__all__ = [
    "DEFAULT_TEMPLATE",
    "DEFAULT_USER_TEXT",
    "GEMMA_ALIAS",
    "GEMMA_CHAT_TEMPLATE",
    "TINY_ALIAS",
    "AnswerTokens",
    "PackedBatch",
    "PromptTemplate",
    "YesNoHead",
    "answer_logits",
    "answer_tokens",
    "apply_lora",
    "convert_gguf",
    "count_parameters",
    "encode_prompts",
    "gemma3_270m_folder",
    "length_batches",
    "load_model",
    "p_yes",
    "p_yes_from_logits",
    "packed_answer_logits",
    "prepare_full_finetune",
    "save_tiny_gemma3",
    "tiny_gemma3",
]
