"""`neurosym.compile`: theory + domains → a `Circuit`, reusing the cache when nothing changed.

The cache key hashes the source texts (the file and its includes, in order), the domains and
the compile options; ``NEUROSYM_CACHE`` sets the cache folder, ``cache=False`` bypasses it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from neurosym.compile.artifact import FORMAT_VERSION, Circuit, load_circuit, model_count, versions
from neurosym.compile.compiler import CompileOptions, compile_ground, constraint_figures, options_from
from neurosym.errors import ArtifactError, CompilationError
from neurosym.ground.domains import DomainSpec
from neurosym.ground.grounder import ground
from neurosym.lang.parser import parse_file
from neurosym.lang.syntax import Theory
from neurosym.resources import cache_dir


def compile(  # noqa: A001 - the public name users asked for: ns.compile(theory, domains=...)
    theory: Theory | str | Path,
    domains: DomainSpec | None = None,
    *,
    cache: bool = True,
    output: str | Path | None = None,
    options: CompileOptions | None = None,
    **option_fields,
) -> Circuit:
    """Ground ``theory`` over ``domains`` and compile it to an SDD.

    ``options`` (or its fields as keywords: ``order``, ``vtree``, ``conjoin``, ``minimize``,
    ``minimize_seconds``, ``max_size``, ``timeout``) choose the strategy and the budget.
    ``output`` also writes the artifact folder there.
    """
    if not isinstance(theory, Theory):
        theory = parse_file(theory)
    if options is not None and option_fields:
        raise CompilationError("give either options=CompileOptions(...) or option keywords, not both")
    options = options or options_from(option_fields)
    spec = _canonical_domains(domains)
    digest = source_hash(theory, spec, options)
    cached_folder = cache_dir() / "circuits" / f"{theory.name}-{digest[:16]}"
    circuit = _from_cache(cached_folder) if cache else None
    if circuit is None:
        circuit = _compile_fresh(theory, spec, options, digest)
        if cache:
            circuit = _store(circuit, cached_folder)
    _name_sources(circuit, theory)
    if output is not None:
        circuit.save(output)
    return circuit


def source_hash(theory: Theory, spec: dict, options: CompileOptions) -> str:
    payload = {
        "format": FORMAT_VERSION,
        "texts": [theory.texts[f] for f in theory.files],
        "domains": spec,
        "options": options.key(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _canonical_domains(domains: DomainSpec | None) -> dict:
    return {
        name: (list(value) if isinstance(value, (list, tuple)) else value)
        for name, value in sorted((domains or {}).items())
    }


def _from_cache(folder: Path) -> Circuit | None:
    if not folder.is_dir():
        return None
    try:
        return load_circuit(folder)
    except ArtifactError:
        return None  # a damaged cache entry is rebuilt and overwritten


def _name_sources(circuit: Circuit, theory: Theory) -> None:
    """A cache entry may come from the same text at another path (another checkout, a copy): the
    circuit names the files compiled now, not the ones the entry was first made from."""
    circuit.manifest = dict(circuit.manifest, **_source_fields(theory))


def _source_fields(theory: Theory) -> dict:
    """The manifest's record of the theory's files: the main one, and every file's text by path."""
    return {"source": theory.source, "sources": {f: theory.texts[f] for f in theory.files}}


def _store(circuit: Circuit, folder: Path) -> Circuit:
    """Put a fresh compile into the cache. Processes that missed the cache together (a sweep's
    workers starting at once) all compile; the first to publish wins and the others load its
    entry, so a complete entry is never swapped out under a reader. A damaged one is replaced."""
    try:
        circuit.save(folder, replace=False)
    except FileExistsError:
        published = _from_cache(folder)
        if published is not None:
            return published
        circuit.save(folder)
    return circuit


def _compile_fresh(theory: Theory, spec: dict, options: CompileOptions, digest: str) -> Circuit:
    grounded = ground(theory, spec)
    compiled = compile_ground(grounded, options)
    manifest = {
        "format": FORMAT_VERSION,
        "theory": theory.name,
        **_source_fields(theory),
        "source_hash": digest,
        "domain_spec": spec,
        "domains": {name: d.spec() for name, d in grounded.domains.items()},
        "atoms": [{"name": n, "kind": k} for n, k in zip(grounded.names, grounded.kinds)],
        "model_count": model_count(compiled.root, len(grounded.atoms)),
        "sdd_size": int(compiled.root.size()),
        "compile_seconds": round(compiled.seconds, 4),
        "options": options.key(),
        "strategy": {"order": compiled.options.order, "vtree": compiled.options.vtree},
        "constraints": constraint_figures(grounded, compiled.order, seconds=max(1.0, compiled.seconds)),
        "versions": versions(),
    }
    circuit = Circuit(compiled.manager, compiled.root, manifest)
    circuit.__dict__["ground_theory"] = grounded
    return circuit
