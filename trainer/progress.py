"""A progress bar with ETA for the training loop (tqdm), and warnings printed above it."""
from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, start: int, enabled: bool = True):
        self.bar = tqdm(total=total, initial=start, disable=not enabled, unit="step", dynamic_ncols=True, file=sys.stderr)

    def update(self, record: dict) -> None:
        shown = {"ce": f"{record['ce']:.3f}", "λ": f"{record['lambda']:.2f}"}
        if record.get("sl") is not None:
            shown["sl"] = f"{record['sl']:.3f}"
        if "dev" in record:
            shown["dev bal-acc"] = f"{record['dev']['balanced_accuracy']:.3f}"
            shown["dev yes"] = f"{record['dev']['yes_rate']:.2f}"
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)

    def warn(self, message: str) -> None:
        tqdm.write(f"warning: {message}", file=sys.stderr)

    def close(self) -> None:
        self.bar.close()
