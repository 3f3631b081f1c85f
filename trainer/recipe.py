"""The fine-tuning recipe: cross-entropy on the gold answer + λ(t) · exact semantic loss.

Read it top to bottom: set-up, then one loop that builds a batch, asks the model, adds the two
losses, steps the optimizer, and now and then evaluates on dev (the collapse monitor) and writes
a checkpoint. λ = 0 (``semantic.enabled: false``) is the plain fine-tuning baseline in the same
loop, data and seed.

One process on CPU or one GPU; under ``accelerate launch`` the head is wrapped for data-parallel
training by HF accelerate and each process takes its own slice of every step's rows.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator

from neurosym.causal import Question
from neurosym.causal.subsets import Asked, asked_prompts
from neurosym.errors import ConfigError, DeviceError, RunFolderExistsError
from neurosym.model import (
    GEMMA_ALIAS,
    TINY_ALIAS,
    PromptTemplate,
    YesNoHead,
    apply_lora,
    load_model,
    prepare_full_finetune,
)
from neurosym.runs import RunFolder
from trainer.checkpoint import (
    BestWeights,
    latest_checkpoint,
    load_checkpoint,
    restore_trainable,
    save_checkpoint,
    save_final,
    trainable_state,
)
from trainer.config import EvalConfig, ModelConfig, PromptConfig, TrainConfig, changed_keys, dump_config, load_config
from trainer.data import TrainingData, batch_indices, premise_groups
from trainer.monitor import CollapseMonitor
from trainer.progress import Progress
from trainer.schedules import LambdaSchedule, lr_factor
from trainer.semantic import SemanticTerm

# Keys a resumed run may change: they alter what is shown or where, or (patience) when the
# run stops, never what a step computes, so a run stopped early can be resumed to train on.
_FREE_KEYS = {"progress", "plots", "overwrite", "output_dir", "eval.patience"}


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Run one training job; returns its run folder."""
    accelerator = make_accelerator(config)
    main, rank, world = accelerator.is_main_process, accelerator.process_index, accelerator.num_processes
    run = config.run_folder()
    checkpoint = latest_checkpoint(run.checkpoints) if resume else None
    state = load_checkpoint(checkpoint) if checkpoint is not None else None
    if main:
        _prepare_folder(run, config, resume, state["step"] if state else None)
    accelerator.wait_for_everyone()

    # -- model, data, and the compiled constraint template the semantic term uses ---------------
    torch.manual_seed(config.seed)
    head = build_head(config.model, config.prompt, accelerator.device)
    data = TrainingData.load(config.data)
    term = SemanticTerm.compile(config.semantic, config.data.task).to(accelerator.device)
    monitor = CollapseMonitor(head, data.dev, term, config.eval, seed=config.seed)

    # -- optimizer, LR warm-up, λ(t) ----------------------------------------------------------
    params = [p for p in head.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    o = config.optim
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, o.warmup_steps, o.max_steps, o.lr_schedule, o.min_lr_ratio)
    )
    lam = LambdaSchedule(config.semantic.lam, config.optim.max_steps)
    best = BestWeights() if config.eval.select == "best" else None
    start = 0
    if state is not None:
        restore_trainable(head, state["weights"])
        optimizer.load_state_dict(state["optimizer"])
        lr_schedule.load_state_dict(state["lr_schedule"])
        lam.load_state_dict(state["lambda"])
        if best is not None:
            best.load_state_dict(state["best"])
        start = state["step"]
    forward = accelerator.prepare(head)  # the head itself, or its data-parallel wrapper

    # -- the loop -----------------------------------------------------------------------------
    steps, accum = config.optim.max_steps, config.optim.grad_accum
    unlabeled_size = config.data.unlabeled_batch_size or config.optim.batch_size
    supervised_groups = premise_groups(data.supervised, config.data.batch_by_premise)
    unlabeled_groups = premise_groups(data.unlabeled, config.data.batch_by_premise)
    progress = Progress(steps, start, enabled=main and config.progress and _interactive())
    head.train()
    trained = start  # steps done: fewer than max_steps after an early stop
    for step in range(start, steps):
        if stalled(best, step, config.eval):
            if main:
                progress.warn(
                    f"step {step}: no better dev check in the last {config.eval.patience}; stopping "
                    f"(the best is step {best.step}'s)"
                )
            break
        t0 = time.perf_counter()
        torch.manual_seed(config.seed * 1_000_003 + step * 1_009 + rank)  # dropout masks: a function of the step
        rng = random.Random(f"{config.seed}/{step}/{rank}")  # so are the sampled subsets
        weight = lam(step) if config.semantic.enabled else 0.0
        record = {
            "step": step + 1,
            "ce": 0.0,
            "sl": 0.0 if weight > 0 else None,
            "lambda": weight,
            "impossible_subsets": 0,
            "rows": [],
        }
        prompts_asked = 0
        for micro in range(accum):
            slot, slots = micro * world + rank, accum * world  # every process its own rows
            picked = batch_indices(supervised_groups, config.optim.batch_size, step, slot, slots, config.seed)
            rows = [data.supervised[i] for i in picked]
            extra = (
                [
                    data.unlabeled[i]
                    for i in batch_indices(unlabeled_groups, unlabeled_size, step, slot, slots, config.seed + 1)
                ]
                if data.unlabeled
                else []
            )
            asked = term.sample(rows + extra, rng, config.semantic.max_queries) if weight > 0 else []
            ce, sl, impossible, sent = train_micro_batch(
                accelerator, forward, head, term, rows, asked, weight, config.optim.max_tokens, accum
            )
            record["ce"] += ce / accum
            if sl is not None:
                record["sl"] += sl / accum
            record["impossible_subsets"] += impossible
            record["rows"] += picked
            prompts_asked += sent
        record["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, config.optim.grad_clip))
        record["skipped"] = not math.isfinite(record["grad_norm"])  # a NaN/inf step would poison every weight
        if record["skipped"]:
            if main:
                progress.warn(f"step {step + 1}: the gradient is not finite; the update is skipped")
        else:
            optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad(set_to_none=True)
        seconds = time.perf_counter() - t0
        record.update(
            lr=lr_schedule.get_last_lr()[0],
            prompts=prompts_asked,
            seconds=seconds,
            examples_per_s=len(record["rows"]) * world / seconds,
            prompts_per_s=prompts_asked * world / seconds,
        )

        if (step + 1) % config.eval.interval == 0 or step + 1 == steps:
            report = monitor.evaluate()
            lam.observe(report["yes_rate"], report["label_yes_rate"], report["violation_rate"], report["semantic_pull"])
            if best is not None:
                best.offer(step + 1, dev_score(report, config.eval), head)
            record["dev"] = report
            if report["flagged"] and main:
                progress.warn(
                    f"step {step + 1}: the model looks {report['status']} on dev — {'; '.join(report['reasons'])}"
                )
        if main:
            run.append_metrics(record)
            progress.update(record)
            if (step + 1) % config.checkpoint.every == 0 or step + 1 == steps or stalled(best, step + 1, config.eval):
                save_checkpoint(
                    run.checkpoints,
                    step + 1,
                    {
                        "weights": trainable_state(head),
                        "optimizer": optimizer.state_dict(),
                        "lr_schedule": lr_schedule.state_dict(),
                        "lambda": lam.state_dict(),
                        **({"best": best.state_dict()} if best is not None else {}),
                    },
                    config.checkpoint.keep_last,
                )
        accelerator.wait_for_everyone()
        trained = step + 1
    progress.close()

    if main:
        selected = trained
        if best is not None and best.weights is not None:
            restore_trainable(head, best.weights)
            selected = best.step
        save_final(head.model, head.tokenizer, run.final, _manifest(config, head, selected, trained))
        if config.plots:
            from trainer.plots import plot_run

            plot_run(run)
    return run.path


def train_micro_batch(
    accelerator: Accelerator,
    forward: Callable,
    head: YesNoHead,
    term: SemanticTerm,
    rows: Sequence[Question],
    asked: Sequence[Asked],
    weight: float,
    max_tokens: int | None,
    accum: int,
) -> tuple[float, float | None, int, int]:
    """Backpropagate (CE + weight · SL) / accum of one micro-batch and return (CE, SL or None when
    nothing was asked, impossible subsets, prompts asked).

    Its questions go through the model packed, in passes of at most ``max_tokens`` padded tokens
    (one pass when None); a premise's questions stay in one pass, and each pass backpropagates its
    share of the means, so the gradient is that of one pass over the whole micro-batch.
    """
    premises, questions = micro_batch_prompts(rows, asked)
    if max_tokens is None:
        passes = [(list(range(len(questions))), head.pack(premises, questions))]
    else:
        passes = head.pack_batches(premises, questions, max_tokens, whole_premises=True)
    owner = [s for s, (_, sample) in enumerate(asked) for _ in sample.queries]  # each query's subset
    # the subsets whose loss is finite: their evidence alone decides it, whatever the model answers
    split = len(passes) > 1 and bool(asked)
    possible = len(asked) - (term(torch.zeros(len(owner), device=head.device), asked)[1] if split else 0)
    ce_sum, sl_sum, impossible = 0.0, None, 0
    for n, (picked, batch) in enumerate(passes):
        pass_rows = [rows[i] for i in picked if i < len(rows)]
        pass_asked = [asked[s] for s in dict.fromkeys(owner[i - len(rows)] for i in picked if i >= len(rows))]
        last = n == len(passes) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(forward):  # one gradient all-reduce
            logits = forward(batch)
            ce, sl, pass_impossible = losses(logits, pass_rows, term, pass_asked)
            ce = ce * (len(pass_rows) / len(rows))
            loss = ce
            if sl is not None:
                sl = sl * ((len(pass_asked) - pass_impossible) / possible if split and possible else 1.0)
                loss = ce + weight * sl
                sl_sum = (sl_sum or 0.0) + sl.item()
            accelerator.backward(loss / accum)
        ce_sum += ce.item()
        impossible += pass_impossible
    return ce_sum, sl_sum, impossible, len(questions)


def ask(forward: Callable, head: YesNoHead, rows: Sequence[Question], asked: Sequence[Asked]) -> torch.Tensor:
    """(Yes, No) logits [rows + subset queries, 2] of `micro_batch_prompts`, in one packed pass."""
    return forward(head.pack(*micro_batch_prompts(rows, asked)))


def micro_batch_prompts(rows: Sequence[Question], asked: Sequence[Asked]) -> tuple[list[str], list[str]]:
    """(premises, questions) of a micro-batch: the gold questions, then every query of every subset."""
    premises, questions = asked_prompts(asked)
    return [q.premise for q in rows] + premises, [q.question for q in rows] + questions


def losses(logits: torch.Tensor, rows: Sequence[Question], term: SemanticTerm, asked: Sequence[Asked]):
    """(CE on the gold answers (0 without rows), the semantic loss or None when nothing was asked,
    impossible subsets)."""
    gold = torch.tensor([0 if q.label == "Yes" else 1 for q in rows], device=logits.device)
    ce = F.cross_entropy(logits[: len(rows)].float(), gold) if rows else logits.sum() * 0.0
    if not asked:
        return ce, None, 0
    z = (logits[len(rows) :, 0] - logits[len(rows) :, 1]).float()  # P(Yes) = sigmoid(z)
    sl, impossible = term(z, asked)
    return ce, sl, impossible


def build_head(config: ModelConfig, prompt: PromptConfig, device: torch.device) -> YesNoHead:
    """The base LM with LoRA adapters or made fully trainable, behind the two-row Yes/No head."""
    dtype = torch.bfloat16 if config.dtype == "bfloat16" else torch.float32
    model, tokenizer = load_model(config.name, dtype=dtype, device=device, attention=config.attention)
    if config.lora is not None:
        lora = config.lora
        model = apply_lora(
            model,
            r=lora.r,
            alpha=lora.alpha,
            dropout=lora.dropout,
            target_modules=lora.target_modules,
            freeze_embeddings=config.freeze_embeddings,
        )
    else:
        prepare_full_finetune(model, freeze_embeddings=config.freeze_embeddings)
    template = PromptTemplate(**({"text": prompt.template} if prompt.template else {}), style=prompt.style)
    return YesNoHead(model, tokenizer, template)


def make_accelerator(config: TrainConfig) -> Accelerator:
    """CPU or GPU; on a GPU with bf16 support and ``model.dtype: auto``, bf16 autocast over float32 weights."""
    if config.device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' asked for, but no CUDA GPU is available (use device: auto or cpu)")
    cpu = config.device == "cpu" or not torch.cuda.is_available()
    bf16 = not cpu and config.model.dtype == "auto" and torch.cuda.is_bf16_supported()
    return Accelerator(cpu=cpu, mixed_precision="bf16" if bf16 else "no")


def _prepare_folder(run: RunFolder, config: TrainConfig, resume: bool, resumed_step: int | None) -> None:
    """Resume only the same run; never start afresh over an earlier run unless told to."""
    if resumed_step is not None:
        changed = [key for key in changed_keys(load_config(run.config), config) if key not in _FREE_KEYS]
        if changed:
            raise ConfigError(
                f"--resume: the config differs from {run.config} in {', '.join(changed)}",
                hint="resume with the run's own config, or start a new run in another output_dir",
            )
        run.truncate_metrics(resumed_step)
        dump_config(config, run.config)  # the run's record says how it went on
        return
    if not (config.overwrite or resume) and (run.metrics.exists() or latest_checkpoint(run.checkpoints) is not None):
        raise RunFolderExistsError(
            f"run folder {run} already holds a run",
            hint="pass --resume to continue it, or --set overwrite=true to start over",
        )
    run.path.mkdir(parents=True, exist_ok=True)
    run.metrics.unlink(missing_ok=True)
    for old in run.checkpoints.glob("step-*.pt"):
        old.unlink()
    dump_config(config, run.config)


def dev_score(report: dict, config: EvalConfig) -> float:
    """The dev check's score for ``eval.select: best`` and ``eval.patience``: higher is better."""
    return -report["log_loss"] if config.select_by == "log_loss" else report["balanced_accuracy"]


def stalled(best: BestWeights | None, step: int, config: EvalConfig) -> bool:
    """After ``step`` steps: ``eval.patience`` dev checks have passed since the best one (early stop)."""
    if config.patience is None or best is None or best.step is None:
        return False
    return step - best.step >= config.patience * config.interval


def _manifest(config: TrainConfig, head: YesNoHead, selected_step: int, trained_steps: int) -> dict:
    """What `neurosym.json` tells a loader: the base model, how it was tuned, how to prompt it, the
    steps trained (fewer than ``optim.max_steps`` after an early stop) and the step whose weights
    these are."""
    name = config.model.name
    base = name if name in (TINY_ALIAS, GEMMA_ALIAS) else str(Path(name).expanduser().resolve())  # a folder, absolute
    return {
        "base_model": base,
        "lora": config.model.lora is not None,
        "task": config.data.task,
        "prompt": {"text": head.template.text, "style": config.prompt.style},
        "answer_tokens": [head.answer.yes_text, head.answer.no_text],
        "steps": config.optim.max_steps,
        "trained_steps": trained_steps,
        "selected_step": selected_step,
        "semantic": config.semantic.enabled,
    }


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")
