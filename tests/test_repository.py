"""The repository stands on its own: no file in it is large, and no test reads beside the checkout.

`.ci/run` proves the second for real: it clones the repository into an empty folder and runs the
README's test command there.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 500_000
OUTSIDE = re.compile(r"parents\[[2-9]\]|parents\[\d\]\.parent|\.parent\.parent|[\"']\.\./|/ *[\"']\.\.[\"']")


def tracked_files() -> list[Path]:
    """The files git tracks in this checkout; the test is skipped outside a git checkout."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=ROOT, capture_output=True, text=True)
    except FileNotFoundError:
        pytest.skip("git is not installed")
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != ROOT:
        pytest.skip(f"{ROOT} is not the top of a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in listed.stdout.split("\0") if name]


def test_no_tracked_file_is_over_500_kb():
    large = [
        f"{p.relative_to(ROOT)} ({p.stat().st_size:,} bytes)"
        for p in tracked_files()
        if p.is_file() and p.stat().st_size > MAX_BYTES
    ]
    assert not large, f"tracked files over {MAX_BYTES:,} bytes: {', '.join(large)}"


def test_no_test_resolves_a_path_above_the_checkout():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not found, "tests that reach beside the checkout:\n" + "\n".join(found)


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "bench").glob("bench_*.py")))
def test_every_benchmark_script_starts(script):
    """Benchmarks do not run in CI; their imports and arguments must still follow the library."""
    started = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert started.returncode == 0, started.stderr[-2000:]
    assert "usage:" in started.stdout
