"""A progress bar with ETA for the training loop (tqdm), and warnings printed above it.

Without a terminal (a log file, CI) there is no bar; each dev evaluation prints one line instead.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, start: int, enabled: bool = True):
        self.total = total
        self.bar = tqdm(
            total=total, initial=start, disable=not enabled, unit="step", dynamic_ncols=True, file=sys.stderr
        )

    def update(self, record: dict) -> None:
        shown = {"ce": f"{record['ce']:.3f}", "λ": f"{record['lambda']:.2f}"}
        if record.get("sl") is not None:
            shown["sl"] = f"{record['sl']:.3f}"
        if "dev" in record:
            dev = record["dev"]
            shown.update(
                {
                    "dev bal-acc": f"{dev['balanced_accuracy']:.3f}",
                    "dev yes": f"{dev['yes_rate']:.2f}",
                    "dev mcc": f"{dev['mcc']:.2f}",
                }
            )
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)
        if self.bar.disable and "dev" in record:
            print(
                f"step {record['step']}/{self.total}  " + "  ".join(f"{k} {v}" for k, v in shown.items()),
                file=sys.stderr,
                flush=True,
            )

    def warn(self, message: str) -> None:
        tqdm.write(f"warning: {message}", file=sys.stderr)

    def close(self) -> None:
        self.bar.close()
