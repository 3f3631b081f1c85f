"""Scores of GPU runs on the questions the sdpa fault left alone (docs/results.md).

The evaluation put the questions through the model in batches of 128, sorted by the characters of
premise + question and left-padded to the batch's longest prompt (`length_batches`). On the
second lease's H200, every padded row of a batch 32k + 1 tokens wide got one shared P(Yes). This
rebuilds those batches from the evaluation files and the tokenizer and scores each run's
eval/predictions.jsonl.gz without the padded rows of such batches. For d-separation it also gives
the share of those answers that follow "Yes if and only if the question names a conditioning set".

Usage, from the repository root: python results/gpu/unaffected.py DATA_DIR RUN...
(DATA_DIR holds the evaluation files, transitivity/ and dseparation/; one JSON line per run.)
"""
import gzip
import json
import sys
from pathlib import Path

from neurosym.eval.metrics import binary_metrics
from neurosym.model import DEFAULT_TEMPLATE, encode_prompts, gemma3_270m_folder, length_batches
from transformers import AutoTokenizer

BATCH = 128  # the sweeps' --eval-batch-size


def affected(rows, data: Path, tokenizer) -> set[int]:
    """Positions (in predictions order) of the padded rows of batches 32k + 1 tokens wide."""
    files = {name: [json.loads(line) for line in open(data / rows[0]["task"] / Path(name).name)]
             for name in dict.fromkeys(r["file"] for r in rows)}
    questions = [files[r["file"]][r["index"]] for r in rows]
    premises, texts = [q["premise"] for q in questions], [q["question"] for q in questions]
    out = set()
    for picked in length_batches(premises, texts, BATCH):
        batch = encode_prompts(tokenizer, [premises[i] for i in picked], [texts[i] for i in picked], DEFAULT_TEMPLATE)
        width = batch["input_ids"].shape[1]
        if width % 32 == 1:
            out |= {i for i, n in zip(picked, batch["attention_mask"].sum(1).tolist()) if n < width}
    return out


def main(data: Path, runs: list[str]) -> None:
    tokenizer = AutoTokenizer.from_pretrained(gemma3_270m_folder())
    by_task: dict[str, set[int]] = {}
    for run in runs:
        rows = [json.loads(line) for line in gzip.open(Path(run) / "eval" / "predictions.jsonl.gz", "rt", encoding="utf-8")]
        task = rows[0]["task"]
        if task not in by_task:  # the batches are the same for every run of a task
            by_task[task] = affected(rows, data, tokenizer)
        skip = by_task[task]
        kept = [r for i, r in enumerate(rows) if i not in skip]
        full = binary_metrics([r["gold"] == "Yes" for r in rows], [r["answer"] == "Yes" for r in rows])
        clean = binary_metrics([r["gold"] == "Yes" for r in kept], [r["answer"] == "Yes" for r in kept])
        line = {"run": run, "questions": len(rows), "affected": len(skip),
                "affected_p_yes": sorted({rows[i]["p_yes"] for i in skip}),
                "balanced_accuracy": round(full.balanced_accuracy, 4),
                "unaffected": {key: round(getattr(clean, key), 4) for key in ("balanced_accuracy", "mcc", "yes_rate", "recall_yes", "recall_no")}}
        if task == "dseparation":
            line["unaffected"]["shortcut_agreement"] = round(
                sum((" given {" in r["question"]) == (r["answer"] == "Yes") for r in kept) / len(kept), 4)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
