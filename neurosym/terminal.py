"""Console output shared by the CLI's command groups, and the wrapper that turns user errors into
messages (exit status 1) instead of tracebacks."""

from __future__ import annotations

import functools

import typer
from rich.console import Console
from rich.markup import escape

from neurosym.errors import NeurosymError

console = Console()
errors = Console(stderr=True)


def friendly(command):
    """Report user errors as messages, not tracebacks."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except NeurosymError as error:
            errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            errors.print("interrupted")
            raise typer.Exit(130) from None

    return run
