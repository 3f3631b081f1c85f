"""The `neurosym` command line: compile, inspect and check constraint files; data, eval.

The trainer's commands (train, demo, report) come from the entry points of the group
``neurosym.commands`` (pyproject.toml), so the library never imports the trainer. Every command
turns a `NeurosymError` into a one-screen message and exit status 1; no Python traceback reaches
the user.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from neurosym.causal.cli import data_app
from neurosym.errors import NeurosymError
from neurosym.terminal import console, friendly

COMMAND_GROUP = "neurosym.commands"

app = typer.Typer(
    help="Compile logical constraints to SDD circuits and train with the exact semantic loss.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)  # docstring lines are joined into paragraphs


def _domains(options: list[str]) -> dict:
    from neurosym.ground.domains import parse_domain_option

    return dict(parse_domain_option(o) for o in options)


@app.command()
@friendly
def compile(  # noqa: A001 - the command is called compile
    file: Annotated[Path, typer.Argument(help="Constraint file (.ns).")],
    domain: Annotated[list[str], typer.Option("--domain", "-d", help="NAME=SIZE or NAME=a,b,c (repeatable).")] = [],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the artifact folder here.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompile even if the cache has it.")] = False,
    max_size: Annotated[Optional[int], typer.Option(help="Give up when the live SDD grows past this size.")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Give up after this many seconds.")] = None,
    order: Annotated[
        str, typer.Option(help="Variable order: auto (picks order and vtree), grouped, min-fill, min-degree, natural.")
    ] = "auto",
    vtree: Annotated[
        str, typer.Option(help="Vtree shape when --order is not auto: balanced, right or blocks.")
    ] = "balanced",
    minimize: Annotated[str, typer.Option(help="none, final (one bounded pass) or dynamic.")] = "final",
):
    """Compile FILE over the given domains into an SDD artifact and print its statistics."""
    import neurosym as ns
    from neurosym.compile.compiler import CompileOptions

    options = CompileOptions(order=order, vtree=vtree, minimize=minimize, max_size=max_size, timeout=timeout)
    circuit = ns.compile(ns.parse_file(file), _domains(domain), cache=not no_cache, output=output, options=options)
    _print_summary(circuit)


def _print_summary(circuit) -> None:
    m = circuit.manifest
    table = Table(title=f"{m['theory']} ({m['source']})", show_header=False)
    domains = ", ".join(
        f"{k}={v if isinstance(v, list) and len(v) > 6 else v}" if not isinstance(v, list) else f"{k}={len(v)}"
        for k, v in m["domains"].items()
    )
    for key, value in [
        ("domains", domains or "-"),
        (
            "variables",
            f"{len(circuit.variables)} ({len(circuit.observed)} observed, {len(circuit.predicted)} predicted)",
        ),
        ("SDD size", f"{m['sdd_size']:,}"),
        ("model count", f"{m['model_count']:,}"),
        ("compile time", f"{m['compile_seconds']:.3f} s"),
        ("artifact", str(circuit.folder)),
    ]:
        table.add_row(key, value)
    console.print(table)


@app.command()
@friendly
def inspect(
    folder: Annotated[Path, typer.Argument(help="A compiled artifact folder.")],
    atoms: Annotated[bool, typer.Option("--atoms", help="List every ground atom.")] = False,
    ground: Annotated[Optional[str], typer.Option("--ground", help="Print this constraint's ground formula.")] = None,
):
    """Show an artifact: atoms, size, model count, and per-constraint figures."""
    from neurosym.compile.artifact import load_circuit

    circuit = load_circuit(folder)
    _print_summary(circuit)
    per = Table(title="constraints")
    for column in ("constraint", "instances", "skipped", "atoms", "model count alone", "SDD size alone"):
        per.add_column(column, justify="left" if column == "constraint" else "right")
    for name, f in circuit.manifest["constraints"].items():
        per.add_row(
            name,
            str(f["instances"]),
            str(f["skipped"]),
            str(f["atoms"]),
            "-" if f["model_count"] is None else f"{f['model_count']:,}",
            "-" if f["sdd_size"] is None else f"{f['sdd_size']:,}",
        )
    console.print(per)
    shown = circuit.variables if atoms else circuit.variables[:12]
    kinds = ["observed" if i in set(circuit.observed) else "predicted" for i in range(len(shown))]
    console.print(
        "atoms: "
        + ", ".join(f"{a}[dim]:{k[0]}[/]" for a, k in zip(shown, kinds))
        + (
            ""
            if atoms or len(circuit.variables) <= 12
            else f", … ({len(circuit.variables)} in all; --atoms lists them)"
        )
    )
    if ground is not None:
        _print_ground(circuit, ground)


def _print_ground(circuit, name: str) -> None:
    from neurosym.errors import ArtifactError
    from neurosym.ground import formula as g

    by_name = {c.name: c for c in circuit.ground_theory.constraints}
    if name not in by_name:
        raise ArtifactError(f"no constraint {name!r}; the theory has {', '.join(by_name)}")
    conjuncts = by_name[name].conjuncts
    shown = conjuncts[:20]
    label = lambda v: circuit.variables[v - 1]  # noqa: E731
    for f in shown:
        console.print(f"  {g.to_sympy(f, label)}", highlight=False)
    if len(conjuncts) > len(shown):
        console.print(f"  … {len(conjuncts) - len(shown)} more")


@app.command()
@friendly
def check(file: Annotated[Path, typer.Argument(help="Constraint file (.ns).")]):
    """Parse and type-check FILE without grounding it."""
    import neurosym as ns

    theory = ns.parse_file(file)
    domains = [
        *(
            f"{d.name}" + (f" = {{{', '.join(d.elements)}}}" if d.elements is not None else "")
            for d in theory.domains.values()
        ),
        *(
            f"{d.name} = subsets({d.base}{', max ' + str(d.max_size) if d.max_size is not None else ''})"
            for d in theory.set_domains.values()
        ),
    ]
    console.print(f"[green]ok[/] {file}: {len(theory.files)} file(s)")
    console.print(f"  domains: {'; '.join(domains) or '-'}")
    console.print(
        "  predicates: "
        + ", ".join(f"{p.kind} {p.name}({', '.join(p.arg_domains)})" for p in theory.predicates.values())
    )
    console.print(f"  constraints: {', '.join(theory.constraints) or '-'}")


@app.command("eval")
@friendly
def eval_(
    model: Annotated[
        str,
        typer.Argument(
            help="A run folder, 'tiny', 'gemma3-270m', a local model folder, or "
            "baseline:always-yes|always-no|random|oracle."
        ),
    ],
    more_data: Annotated[
        Optional[list[Path]], typer.Argument(help="More data files (so --data a b c works).", show_default=False)
    ] = None,
    data: Annotated[list[Path], typer.Option("--data", help="A question file in any known format (repeatable).")] = [],
    task: Annotated[Optional[str], typer.Option(help="Keep only this task: transitivity or dseparation.")] = None,
    output_dir: Annotated[
        Optional[Path], typer.Option(help="Where eval.json, eval.md and plots go (default: RUN/eval).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Prompts per forward pass.")] = 16,
    k: Annotated[int, typer.Option("--k", help="Nodes per sampled subset (consistency, --constrained).")] = 3,
    subsets: Annotated[int, typer.Option(help="Sampled subsets per file for the consistency check (0: skip).")] = 32,
    edits: Annotated[int, typer.Option(help="Questions per file given a minimal premise edit (0: skip).")] = 64,
    constrained: Annotated[
        bool, typer.Option("--constrained", help="Also answer jointly with the circuit's MPE.")
    ] = False,
    limit: Annotated[Optional[int], typer.Option(help="At most this many questions per file.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampled subsets and edits.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
):
    """Evaluate MODEL on question files, its collapse verdict first.

    Then the balanced metrics, the consistency with the constraints and the sensitivity to the
    premise."""
    from neurosym.eval.evaluate import EvalSettings
    from neurosym.eval.runs import evaluate_model
    from neurosym.eval.summary import print_result
    from neurosym.runs import RunFolder

    files = [*data, *(more_data or [])]
    settings = EvalSettings(
        task=task, k=k, subsets=subsets, edits=edits, constrained=constrained, limit=limit, seed=seed
    )
    settings.check()
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise NeurosymError(f"data file(s) not found: {', '.join(missing)}")
    run = RunFolder(model)
    if output_dir is None and not run.is_run():
        raise NeurosymError(f"--output-dir is required: {model!r} is not a run folder (one with final/neurosym.json)")
    out = output_dir or run.eval_dir
    result, written = evaluate_model(model, files, settings, out, batch_size, device)
    print_result(result, console)
    console.print(f"wrote {', '.join(p.name for p in written)} to {out}")


@app.command()
@friendly
def ask(
    model: Annotated[
        str,
        typer.Argument(
            help="A run folder, 'tiny', 'gemma3-270m', a local model folder, or "
            "baseline:always-yes|always-no|random|oracle."
        ),
    ],
    questions: Annotated[
        Optional[list[str]],
        typer.Argument(help="Questions about --premise, e.g. 'Does A cause C?'.", show_default=False),
    ] = None,
    premise: Annotated[Optional[str], typer.Option(help="The premise, e.g. 'A causes B. B causes C.'.")] = None,
    file: Annotated[
        Optional[Path],
        typer.Option("--file", help="Ask the questions of a data file instead (any format `neurosym eval` reads)."),
    ] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many questions of --file.")] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per answer instead of a table.")] = False,
    batch_size: Annotated[int, typer.Option(help="Prompts per forward pass.")] = 16,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
):
    """Ask MODEL questions about a premise and print each answer with its P(Yes).

    `neurosym ask RUN --premise "A causes B. B causes C." "Does A cause C?"`, or `--file FILE`
    for a file of questions (its labels are shown beside the answers)."""
    import json

    from neurosym.eval.ask import ask as ask_premise
    from neurosym.eval.ask import ask_file

    if (file is None) == (premise is None):
        raise NeurosymError(
            "give either --premise with questions, or --file",
            hint='neurosym ask RUN --premise "A causes B. B causes C." "Does A cause C?"',
        )
    if premise is not None and not questions:
        raise NeurosymError("--premise needs at least one question after the model, e.g. 'Does A cause C?'")
    if file is not None and questions:
        raise NeurosymError(f"--file asks the questions of {file}; drop the questions given on the command line")
    if file is not None and not file.is_file():
        raise NeurosymError(f"data file not found: {file}")
    answers = (
        ask_file(model, file, limit=limit, batch_size=batch_size, device=device)
        if file is not None
        else ask_premise(model, premise, questions, batch_size=batch_size, device=device)
    )
    if json_lines:
        for answer in answers:
            print(json.dumps(answer.to_dict()))
        return
    labelled = any(a.question.label is not None for a in answers)
    table = Table(title=premise if premise is not None else str(file))
    for column in ("question", "answer", "P(Yes)", *(("label",) if labelled else ())):
        table.add_column(column, justify="right" if column == "P(Yes)" else "left")
    for answer in answers:
        mark = "" if answer.correct is None else (" ✓" if answer.correct else " ✗")
        shown = answer.question.question if premise is not None else answer.question.text
        table.add_row(
            shown, answer.answer, f"{answer.p_yes:.3f}", *((f"{answer.question.label}{mark}",) if labelled else ())
        )
    console.print(table)
    if labelled:
        right = sum(bool(a.correct) for a in answers)
        console.print(f"{right} of {len(answers)} answers match their labels")


app.add_typer(data_app, name="data", help="Generate, load and summarize causal question files.")


def _register_plugin_commands() -> None:
    """Commands other packages add (the trainer's train, demo and report): each entry point of the
    group ``neurosym.commands`` names a function that takes the app and registers its commands."""
    registrars = {entry.value: entry for entry in entry_points(group=COMMAND_GROUP)}  # an install listed twice: once
    for entry in registrars.values():
        entry.load()(app)


_register_plugin_commands()


def main() -> None:  # pragma: no cover - console entry for `python -m neurosym`
    app(prog_name="neurosym")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
