"""Training in several processes: a `kill -9`ed run resumed, and data parallelism through accelerate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file
from test_trainer_run import one_thread_own_cache, records, tiny, tiny_overrides, untimed_records  # noqa: F401 - a fixture
from typer.testing import CliRunner

from neurosym.cli import app
from neurosym.resources import resource_dir
from trainer.checkpoint import load_checkpoint
from trainer.recipe import train

pytestmark = pytest.mark.slow


def test_resume_after_kill_9_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path):
    overrides = [
        "optim.max_steps=12",
        "checkpoint.every=2",
        "eval.interval=4",
        "model.lora.dropout=0.1",
        "semantic.lam.schedule=adaptive",
        "eval.select=best",
        "plots=false",
    ]
    whole = train(tiny(tmp_path / "whole", *overrides))
    killed = tmp_path / "killed"
    arguments = [
        "train",
        str(resource_dir("experiments") / "tiny.yaml"),
        *[a for o in tiny_overrides(killed, *overrides) for a in ("--set", o)],
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "neurosym", *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        while not (killed / "checkpoints" / "step-0000002.pt").exists():
            assert process.poll() is None, "the run ended before its first checkpoint"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (killed / "final").exists()
    with (killed / "metrics.jsonl").open("a") as f:
        f.write('{"step": 99, "ce": 0.6')  # a record cut short mid-write
    result = CliRunner().invoke(app, [*arguments, "--resume"])
    assert result.exit_code == 0, result.output

    a, b = (load_checkpoint(f / "checkpoints" / "step-0000012.pt") for f in (whole, killed))
    assert a["weights"].keys() == b["weights"].keys() and a["weights"]
    for name in a["weights"]:
        assert torch.equal(a["weights"][name], b["weights"][name]), name
    assert a["lambda"] == b["lambda"]
    assert a["best"]["step"] == b["best"]["step"] and a["best"]["score"] == b["best"]["score"]
    assert all(torch.equal(a["best"]["weights"][name], b["best"]["weights"][name]) for name in a["weights"])
    for state_a, state_b in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert untimed_records(killed) == untimed_records(whole)


def test_two_data_parallel_processes_match_one_process_with_their_joint_batch(tmp_path):
    """torchrun + HF accelerate on CPU (gloo): the same path `accelerate launch` takes on GPUs."""
    common = ["optim.max_steps=3", "eval.interval=3", "semantic.enabled=false", "plots=false"]
    arguments = [a for o in tiny_overrides(tmp_path / "ddp", "optim.batch_size=2", *common) for a in ("--set", o)]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "-m",
            "neurosym",
            "train",
            str(resource_dir("experiments") / "tiny.yaml"),
            *arguments,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    single = train(tiny(tmp_path / "single", "optim.batch_size=4", *common))
    parallel, joint = (load_file(f / "final" / "adapter_model.safetensors") for f in (tmp_path / "ddp", single))
    assert parallel.keys() == joint.keys()
    for name in joint:
        torch.testing.assert_close(parallel[name], joint[name], rtol=1e-5, atol=1e-6)
    first = [r["rows"] for r in records(tmp_path / "ddp")]  # the main process's half of each step
    assert first == [r["rows"][:2] for r in records(single)]
