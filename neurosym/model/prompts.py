"""Prompt text for a causal Yes/No question, and its batch tokenization.

A prompt ends exactly where the model would write its answer, so the answer is read at the last
position. Batches are padded on the left, which puts every prompt's last token in the final column.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from transformers import BatchEncoding, PreTrainedTokenizerBase

from neurosym.errors import DataError

DEFAULT_USER_TEXT = (
    "Given the following causal relationships:\n{premise}\n\n{question}\nPlease answer with only 'Yes' or 'No'."
)

# Gemma 3's chat format, text only: ``<bos><start_of_turn>user\n…<end_of_turn>\n<start_of_turn>model\n``.
# The GGUF of the base 270M model carries no template, so this one is installed on its tokenizer.
GEMMA_CHAT_TEMPLATE = (
    r"{{ bos_token }}"
    r"{%- if messages[0]['role'] == 'system' -%}"
    r"{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    r"{%- set loop_messages = messages[1:] -%}"
    r"{%- else -%}"
    r"{%- set first_user_prefix = '' -%}"
    r"{%- set loop_messages = messages -%}"
    r"{%- endif -%}"
    r"{%- for message in loop_messages -%}"
    r"{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    r"{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    r"{%- endif -%}"
    r"{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    r"{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    r"{{ message['content'] | trim }}"
    r"{{ '<end_of_turn>\n' }}"
    r"{%- endfor -%}"
    r"{%- if add_generation_prompt -%}"
    r"{{ '<start_of_turn>model\n' }}"
    r"{%- endif -%}"
)

Style = Literal["auto", "chat", "plain"]
_STYLES = ("auto", "chat", "plain")
_FIELDS = {"premise", "question"}
_QUESTION_MARK = "\ue000"  # a private-use character: marks where the question starts in a rendered prompt


@dataclass(frozen=True)
class PromptTemplate:
    """How a (premise, question) pair becomes the text the model continues with its answer.

    ``text`` is the user message with ``{premise}`` and ``{question}`` fields. ``style`` "chat" wraps
    it in the tokenizer's chat template as a user turn followed by the opening of the model turn;
    "plain" appends ``plain_suffix`` instead (for base models without a chat template); "auto"
    picks chat when the tokenizer has a template.
    """

    text: str = DEFAULT_USER_TEXT
    style: Style = "auto"
    plain_suffix: str = "\nAnswer:"

    def __post_init__(self) -> None:
        if self.style not in _STYLES:
            raise DataError(f"prompt style {self.style!r} is not one of {', '.join(_STYLES)}")
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(self.text) if name is not None}
        except ValueError as error:
            raise DataError(f"prompt template {self.text!r} is not a valid format string: {error}") from None
        if fields != _FIELDS:
            raise DataError(
                f"prompt template {self.text!r} must use exactly the fields {{premise}} and {{question}}, "
                f"found {sorted(fields) or 'none'}"
            )

    def uses_chat(self, tokenizer: PreTrainedTokenizerBase) -> bool:
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if self.style == "chat" and not has_template:
            raise DataError(
                f"prompt style 'chat' needs a tokenizer with a chat template; "
                f"{type(tokenizer).__name__} ({tokenizer.name_or_path!r}) has none",
                hint="use style 'plain' or 'auto'",
            )
        return self.style != "plain" and has_template

    def user_text(self, premise: str, question: str) -> str:
        return self.text.format(premise=premise, question=question)

    def render(self, tokenizer: PreTrainedTokenizerBase, premise: str, question: str) -> str:
        """The prompt as text; chat prompts already hold their special tokens (see add_special_tokens)."""
        user = self.user_text(premise, question)
        if self.uses_chat(tokenizer):
            return tokenizer.apply_chat_template(
                [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
            )
        return user + self.plain_suffix

    def head(self, tokenizer: PreTrainedTokenizerBase, premise: str) -> str:
        """The rendered prompt's text before the question: what all questions about ``premise`` share."""
        rendered = self.render(tokenizer, premise, _QUESTION_MARK)
        return rendered[: rendered.index(_QUESTION_MARK)]

    def add_special_tokens(self, tokenizer: PreTrainedTokenizerBase) -> bool:
        """Whether tokenizing a rendered prompt should add BOS: a chat template writes its own."""
        return not self.uses_chat(tokenizer)


DEFAULT_TEMPLATE = PromptTemplate()


def encode_prompts(
    tokenizer: PreTrainedTokenizerBase,
    premises: Sequence[str],
    questions: Sequence[str],
    template: PromptTemplate = DEFAULT_TEMPLATE,
    max_length: int | None = None,
) -> BatchEncoding:
    """``input_ids`` and ``attention_mask`` ([B, T] tensors), left-padded.

    A prompt longer than ``max_length`` is an error rather than truncated: cutting either end would
    drop the premise's start or the position the answer is read at.
    """
    if isinstance(premises, str) or isinstance(questions, str):
        raise DataError("encode_prompts takes lists of premises and questions, not a single string")
    if len(premises) != len(questions):
        raise DataError(f"{len(premises)} premises but {len(questions)} questions")
    if not premises:
        raise DataError("encode_prompts needs at least one prompt")
    if tokenizer.pad_token_id is None:
        raise DataError(
            f"tokenizer {tokenizer.name_or_path!r} has no pad token",
            hint="load it with neurosym.model.load_model, which uses the EOS token as pad",
        )
    texts = [template.render(tokenizer, p, q) for p, q in zip(premises, questions)]
    batch = tokenizer(
        texts,
        add_special_tokens=template.add_special_tokens(tokenizer),
        padding=True,
        padding_side="left",
        return_tensors="pt",
    )
    if max_length is not None:
        lengths = batch["attention_mask"].sum(dim=1)
        too_long = (lengths > max_length).nonzero().flatten().tolist()
        if too_long:
            i = too_long[0]
            raise DataError(
                f"prompt {i} is {int(lengths[i])} tokens, over max_length={max_length} "
                f"({len(too_long)} prompt(s) too long); question: {questions[i]!r}"
            )
    return batch
