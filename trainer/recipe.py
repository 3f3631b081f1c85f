"""The fine-tuning recipe: cross-entropy on the gold answer + λ(t) · exact semantic loss.

Read it top to bottom: set-up, then one loop that builds a batch, asks the model, adds the two
losses, steps the optimizer, and now and then evaluates on dev (the collapse monitor) and writes
a checkpoint. λ = 0 is the plain fine-tuning baseline in the same loop, data and seed.
"""
from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import neurosym as ns
from neurosym.causal import SubsetSampler
from neurosym.model import YesNoHead, apply_lora, freeze_embeddings, load_model
from neurosym.model.prompts import PromptTemplate
from neurosym.resources import constraint_path
from trainer.checkpoint import latest_checkpoint, load_checkpoint, restore_trainable, save_checkpoint, trainable_state
from trainer.config import TrainConfig, dump_config
from trainer.data import batch_indices, labelled, load_split
from trainer.monitor import CollapseMonitor
from trainer.progress import Progress
from trainer.schedules import LambdaSchedule


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Run one training job; returns its run folder."""
    out = config.run_folder()
    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / "config.yaml")
    device = _device(config.device)

    # -- model: the base LM, LoRA or full fine-tuning, and the two-row Yes/No head -------------
    torch.manual_seed(config.seed)
    model, tokenizer = load_model(config.model.name, dtype=_dtype(config.model.dtype, device), device=device)
    if config.model.lora is not None:
        lora = config.model.lora
        model = apply_lora(model, r=lora.r, alpha=lora.alpha, dropout=lora.dropout,
                           target_modules=lora.target_modules, freeze_embeddings=config.model.freeze_embeddings)
    elif config.model.freeze_embeddings:
        freeze_embeddings(model)
    template = PromptTemplate(**({"text": config.prompt.template} if config.prompt.template else {}),
                              style="chat" if config.prompt.chat else "plain")
    head = YesNoHead(model, tokenizer, template)

    # -- data, and the compiled constraint template the semantic term uses --------------------
    train_rows = load_split(config.data, "train")
    supervised = labelled(train_rows)
    dev_rows = labelled(load_split(config.data, "dev"))
    circuit = ns.compile(config.semantic.constraints or constraint_path(f"causal/{config.data.task}.ns"),
                         {"Node": config.semantic.k})
    semantic_loss = ns.SemanticLoss(circuit).to(device)
    sampler = SubsetSampler.for_circuit(circuit)
    monitor = CollapseMonitor(head, dev_rows, circuit, sampler, config.eval, seed=config.seed)

    # -- optimizer, LR warm-up, λ(t) ----------------------------------------------------------
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    warmup = config.optim.warmup_steps
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)
    lam = LambdaSchedule(config.semantic.lam, config.optim.max_steps)

    start = 0
    metrics_path = out / "metrics.jsonl"
    if resume and (ckpt := latest_checkpoint(out / "checkpoints")) is not None:
        state = load_checkpoint(ckpt)
        restore_trainable(model, state["weights"])
        optimizer.load_state_dict(state["optimizer"])
        lr_schedule.load_state_dict(state["lr_schedule"])
        lam.load_state_dict(state["lambda"])
        start = state["step"]
        _truncate_metrics(metrics_path, start)
    elif metrics_path.exists():
        metrics_path.unlink()

    # -- the loop -----------------------------------------------------------------------------
    steps = config.optim.max_steps
    progress = Progress(steps, start, enabled=config.progress)
    model.train()
    for step in range(start, steps):
        t0 = time.perf_counter()
        torch.manual_seed(config.seed * 1_000_003 + step)  # dropout draws depend on (seed, step) only
        rng = random.Random(f"{config.seed}/{step}")  # so do the sampled subsets
        weight = lam(step) if config.semantic.enabled else 0.0
        totals = {"ce": 0.0, "sl": 0.0, "prompts": 0}
        for micro in range(config.optim.grad_accum):
            rows = [supervised[i] for i in batch_indices(len(supervised), config.optim.batch_size, step, micro,
                                                         config.optim.grad_accum, config.seed)]
            ce, sl, asked = _losses(head, semantic_loss, sampler, rows, config, rng, with_semantic=weight > 0)
            loss = (ce + weight * sl) / config.optim.grad_accum
            loss.backward()
            totals["ce"] += ce.item() / config.optim.grad_accum
            totals["sl"] += sl.item() / config.optim.grad_accum
            totals["prompts"] += asked
        torch.nn.utils.clip_grad_norm_(params, config.optim.grad_clip)
        optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad(set_to_none=True)

        record = {"step": step + 1, "ce": totals["ce"], "sl": totals["sl"] if weight > 0 else None, "lambda": weight,
                  "lr": lr_schedule.get_last_lr()[0], "prompts_per_s": totals["prompts"] / (time.perf_counter() - t0)}
        if (step + 1) % config.eval.interval == 0 or step + 1 == steps:
            report = monitor.evaluate()
            lam.observe(report["yes_rate"], report["label_yes_rate"], report["violation_rate"])
            record["dev"] = report
            if report["collapsed"]:
                progress.warn(f"step {step + 1}: the model looks collapsed on dev — {'; '.join(report['reasons'])}")
        with metrics_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        progress.update(record)
        if (step + 1) % config.checkpoint.every == 0 and step + 1 < steps:
            save_checkpoint(out / "checkpoints", step + 1, {
                "weights": trainable_state(model), "optimizer": optimizer.state_dict(),
                "lr_schedule": lr_schedule.state_dict(), "lambda": lam.state_dict()}, config.checkpoint.keep_last)
    progress.close()

    _save_final(model, tokenizer, out / "final", config)
    if config.plots:
        from trainer.plots import plot_run

        plot_run(metrics_path, out)
    return out


def _losses(head, semantic_loss, sampler, rows, config: TrainConfig, rng: random.Random, with_semantic: bool):
    """CE on the batch's gold answers, and the semantic loss over sampled subsets of their premises.

    All prompts of a micro-batch (the gold questions, then every subset query) go through the model
    in one batch.
    """
    premises = [q.premise for q in rows]
    questions = [q.question for q in rows]
    samples = []
    if with_semantic:
        for q in rows:
            for _ in range(config.semantic.subsets_per_example):
                sample = sampler.sample(q, rng, max_queries=config.semantic.max_queries)
                samples.append(sample)
                premises += [q.premise] * len(sample.queries)
                questions += [a.text for a in sample.queries]
    batch = head.encode(premises, questions)
    logits = head(batch["input_ids"], batch["attention_mask"])  # [B, 2]: Yes, No
    gold = torch.tensor([0 if q.label == "Yes" else 1 for q in rows], device=logits.device)
    ce = F.cross_entropy(logits[: len(rows)].float(), gold)
    if not samples:
        return ce, torch.zeros((), device=logits.device), len(premises)
    z = (logits[len(rows):, 0] - logits[len(rows):, 1]).float()  # P(Yes) = sigmoid(z)
    logit_rows, masks, offset = [], [], 0
    for sample in samples:
        n = len(sample.queries)
        logit_rows.append(subset_logits(sample, z[offset: offset + n]))
        masks.append(sample.mask(device=z.device))
        offset += n
    sl = semantic_loss(logits=torch.stack(logit_rows), mask=torch.stack(masks))
    return ce, sl[torch.isfinite(sl)].mean() if torch.isfinite(sl).any() else sl.new_zeros(()), len(premises)


def subset_logits(sample, z: torch.Tensor) -> torch.Tensor:
    """The circuit's input for one subset: the model's logits at the asked queries, ±inf evidence."""
    row = z.new_zeros(sample.num_variables)
    if sample.evidence:
        index = torch.tensor(list(sample.evidence), device=z.device)
        value = torch.tensor([math.inf if v else -math.inf for v in sample.evidence.values()], device=z.device)
        row = row.index_put((index,), value)
    index = torch.tensor([q.index for q in sample.queries], device=z.device, dtype=torch.long)
    return row.index_put((index,), z)


def _save_final(model, tokenizer, folder: Path, config: TrainConfig) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "neurosym.json").write_text(json.dumps({"base_model": config.model.name,
                                                      "lora": config.model.lora is not None}) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]

