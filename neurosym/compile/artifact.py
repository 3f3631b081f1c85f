"""The compiled artifact: an SDD, its vtree, and a manifest that says what they mean.

A folder holds ``circuit.sdd``, ``circuit.vtree`` and ``manifest.json`` (source hash, domains,
ground atoms in variable order with their kind, model count, SDD size, compile time, versions,
per-constraint figures, and the source texts so the theory can be re-grounded). The tensorized
circuit is cached beside them as ``tensor.pt`` the first time it is needed. Loading checks the
files against the manifest.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from functools import cached_property
from importlib import metadata
from pathlib import Path

from pysdd.sdd import SddManager, SddNode, Vtree

from neurosym.atomic import atomic_write, publish_folder, replace_folder
from neurosym.errors import ArtifactError

FORMAT_VERSION = 1
SDD_FILE, VTREE_FILE, MANIFEST_FILE, TENSOR_FILE = "circuit.sdd", "circuit.vtree", "manifest.json", "tensor.pt"


class Circuit:
    """A compiled constraint: the SDD plus the meaning of its variables.

    ``variables[i]`` is the ground atom of SDD variable ``i + 1``; ``observed`` and ``predicted``
    index into it. Probabilities and evidence are passed as tensors ``[..., len(variables)]``.
    """

    def __init__(self, manager: SddManager, root: SddNode, manifest: dict, folder: Path | None = None):
        self.manager = manager
        self.root = root
        self.manifest = manifest
        self.folder = folder
        self.variables: list[str] = [a["name"] for a in manifest["atoms"]]
        kinds = [a["kind"] for a in manifest["atoms"]]
        self.observed: list[int] = [i for i, k in enumerate(kinds) if k == "observed"]
        self.predicted: list[int] = [i for i, k in enumerate(kinds) if k == "predicted"]
        self._index = {name: i for i, name in enumerate(self.variables)}
        self._tensor = None

    # -- what it is ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest["theory"]

    @property
    def domains(self) -> dict:
        return self.manifest["domains"]

    def __len__(self) -> int:
        return len(self.variables)

    def __repr__(self) -> str:
        return f"Circuit({self.name!r}, variables={len(self.variables)}, size={self.size()})"

    def index(self, atom: str) -> int:
        """Position of a ground atom such as ``"causes(n0,n1)"`` in `variables`."""
        try:
            return self._index[atom.replace(" ", "")]
        except KeyError:
            raise ArtifactError(f"circuit {self.name!r} has no variable {atom!r}") from None

    def model_count(self) -> int:
        """Satisfying assignments over all of `variables`."""
        return model_count(self.root, len(self.variables))

    def size(self) -> int:
        return int(self.root.size())

    def satisfied_by(self, assignment: Sequence[bool | int]) -> bool:
        """Exact Boolean check of one complete 0/1 assignment aligned with `variables`."""
        if len(assignment) != len(self.variables):
            raise ArtifactError(f"expected an assignment of {len(self.variables)} values, got {len(assignment)}")
        return _evaluate(self.root, assignment, {})

    def violated_constraints(self, assignment: Sequence[bool | int]) -> list[str]:
        """Names of the theory's constraints that a complete 0/1 assignment violates."""
        from neurosym.compile.compiler import violated_constraints

        return violated_constraints(self.ground_theory, assignment)

    @cached_property
    def ground_theory(self):
        """The theory re-grounded from the sources stored in the manifest (same variable order)."""
        from neurosym.ground.grounder import ground
        from neurosym.lang.parser import parse_sources

        sources = self.manifest["sources"]
        theory = parse_sources(sources, next(iter(sources)))
        grounded = ground(theory, self.manifest["domain_spec"])
        if grounded.names != self.variables:
            raise ArtifactError(f"{self.folder}: the stored sources no longer ground to the manifest's atoms")
        return grounded

    # -- tensors -------------------------------------------------------------------------------
    def tensor_circuit(self):
        """The layered tensor form of the SDD (built once, cached in the artifact folder).

        The cached file is derived data: one that is stale (an older tensor format) or damaged is
        rebuilt from the SDD and replaced, never trusted; one that cannot be written is skipped."""
        if self._tensor is None:
            from neurosym.tensor import TensorCircuit
            from neurosym.tensor.layers import layers_from_sdd
            from neurosym.tensor.projection import Projector

            # masked rows are counted on projections of this SDD; every node this manager keeps is referenced
            projector = Projector(self.root, len(self.variables), collect_garbage=True)
            cached = self.folder / TENSOR_FILE if self.folder else None
            if cached is not None and cached.is_file():
                try:
                    self._tensor = TensorCircuit.load(cached, projector)
                except ArtifactError:
                    pass
            if self._tensor is None:
                self._tensor = TensorCircuit(layers_from_sdd(self.root, len(self.variables)), projector)
                if cached is not None:
                    with contextlib.suppress(OSError):  # a read-only folder: the tensor form stays in memory
                        atomic_write(cached, self._tensor.save)
        return self._tensor

    def log_prob(self, probs=None, *, logits=None, mask=None):
        """log P(constraint) for independent Bernoulli variables, batched; masked-out variables are
        quantified existentially (see `TensorCircuit.log_prob`)."""
        return self.tensor_circuit().log_prob(probs, logits=logits, mask=mask)

    def mpe(self, probs=None, *, logits=None, mask=None):
        """The most probable satisfying assignment and its log-probability, batched."""
        return self.tensor_circuit().mpe(probs, logits=logits, mask=mask)

    # -- files ---------------------------------------------------------------------------------
    def save(self, folder: str | Path, *, replace: bool = True) -> Path:
        """Write the artifact to ``folder`` atomically (a half-written folder never appears).

        An existing ``folder`` is replaced; with ``replace=False`` it is left as it is and
        `FileExistsError` raised, also when another process publishes it while this one writes."""
        folder = Path(folder)
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        except OSError as error:
            raise ArtifactError(
                f"cannot write the artifact folder {folder}: {error.strerror or error}",
                hint="choose another --output folder (or $NEUROSYM_CACHE), or pass --no-cache",
            ) from None
        try:
            self.manager.vtree().save(str(staging / VTREE_FILE).encode())
            self.manager.save(str(staging / SDD_FILE).encode(), self.root)
            manifest = dict(self.manifest, files={f: _sha256(staging / f) for f in (SDD_FILE, VTREE_FILE)})
            (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
            if not replace:
                if not publish_folder(staging, folder):
                    raise FileExistsError(errno.EEXIST, "already published", str(folder))
            else:
                replace_folder(staging, folder)
        except FileExistsError:
            raise
        except OSError as error:
            raise ArtifactError(f"cannot write the artifact folder {folder}: {error.strerror or error}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.manifest = manifest
        self.folder = folder
        return folder


def load_circuit(folder: str | Path) -> Circuit:
    """Load an artifact folder written by `Circuit.save`, checking it against its manifest."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST_FILE
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is a file, not an artifact folder"
        raise ArtifactError(
            f"{folder} {what}", hint="create an artifact with `neurosym compile FILE --domain NAME=SIZE -o FOLDER`"
        )
    if not manifest_path.is_file():
        raise ArtifactError(
            f"{folder} is not a compiled circuit: {MANIFEST_FILE} is missing",
            hint="create one with `neurosym compile FILE --domain NAME=SIZE -o FOLDER`",
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{manifest_path}: unreadable manifest ({error})") from None
    _check_manifest(manifest, manifest_path)
    for name, digest in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"{path} is missing (listed in {manifest_path})")
        if _sha256(path) != digest:
            raise ArtifactError(
                f"{path} does not match the hash in {manifest_path}; the artifact was modified",
                hint="recompile with `neurosym compile ... --no-cache`",
            )
    var_count = max(len(manifest["atoms"]), 1)
    # PySDD's readers end the process on a malformed file, so the files are checked here first.
    vtree_ids = _check_vtree_file(folder / VTREE_FILE, var_count)
    _check_sdd_file(folder / SDD_FILE, vtree_ids, var_count)
    manager = SddManager.from_vtree(Vtree.from_file(str(folder / VTREE_FILE).encode()))
    root = manager.read_sdd_file(str(folder / SDD_FILE).encode())
    root.ref()
    if root.size() != manifest["sdd_size"] or model_count(root, len(manifest["atoms"])) != manifest["model_count"]:
        raise ArtifactError(f"{folder / SDD_FILE}: size or model count differ from {manifest_path}")
    return Circuit(manager, root, manifest, folder)


def _check_manifest(manifest, path: Path) -> None:
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path}: expected a JSON object, got {type(manifest).__name__}")
    required = {
        "format": int,
        "theory": str,
        "atoms": list,
        "model_count": int,
        "sdd_size": int,
        "files": dict,
        "sources": dict,
        "domain_spec": dict,
    }
    missing = [k for k in required if k not in manifest]
    if missing:
        raise ArtifactError(f"{path}: manifest lacks {', '.join(missing)}")
    if manifest["format"] != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: artifact format {manifest['format']!r}, this neurosym reads {FORMAT_VERSION}",
            hint="recompile it with this version: `neurosym compile ... -o FOLDER`",
        )
    for key, kind in required.items():
        if not isinstance(manifest[key], kind):
            raise ArtifactError(f"{path}: {key!r} should be a {kind.__name__}, got {type(manifest[key]).__name__}")
    if sorted(manifest["files"]) != sorted((SDD_FILE, VTREE_FILE)):
        raise ArtifactError(f"{path}: 'files' must list the hashes of {SDD_FILE} and {VTREE_FILE}")
    if not all(
        isinstance(a, dict) and isinstance(a.get("name"), str) and a.get("kind") in ("observed", "predicted")
        for a in manifest["atoms"]
    ):
        raise ArtifactError(f"{path}: every atom needs a 'name' and a 'kind' (observed or predicted)")


def _records(path: Path, header: str):
    """The non-comment lines of a PySDD text file as integer rows, after its ``header N`` line."""
    try:
        lines = [line.split() for line in path.read_text(encoding="ascii").splitlines() if line and line[0] != "c"]
    except (OSError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{path}: unreadable ({error})") from None
    if not lines or len(lines[0]) != 2 or lines[0][0] != header or not lines[0][1].isdigit():
        raise ArtifactError(f"{path}: expected a '{header} COUNT' line first; this is not a PySDD {header} file")
    rows = []
    for number, tokens in enumerate(lines[1:], start=2):
        try:
            rows.append((tokens[0], [int(t) for t in tokens[1:]]))
        except ValueError:
            raise ArtifactError(f"{path}: malformed record {number}: {' '.join(tokens)!r}") from None
    if len(rows) != int(lines[0][1]):
        raise ArtifactError(f"{path}: the header announces {lines[0][1]} records, the file holds {len(rows)}")
    return rows


def _check_vtree_file(path: Path, var_count: int) -> set[int]:
    ids: set[int] = set()
    for tag, values in _records(path, "vtree"):
        ok = (tag == "L" and len(values) == 2 and 1 <= values[1] <= var_count) or (
            tag == "I" and len(values) == 3 and values[1] in ids and values[2] in ids
        )
        if not ok or values[0] in ids:
            raise ArtifactError(f"{path}: malformed vtree node {tag} {values}")
        ids.add(values[0])
    return ids


def _check_sdd_file(path: Path, vtree_ids: set[int], var_count: int) -> None:
    ids: set[int] = set()
    for tag, values in _records(path, "sdd"):
        if tag in ("T", "F"):
            ok = len(values) == 1
        elif tag == "L":
            ok = len(values) == 3 and values[1] in vtree_ids and 1 <= abs(values[2]) <= var_count
        else:
            ok = (
                tag == "D"
                and len(values) >= 3
                and values[1] in vtree_ids
                and len(values) == 3 + 2 * values[2]
                and all(child in ids for child in values[3:])
            )
        if not ok or values[0] in ids:
            raise ArtifactError(f"{path}: malformed SDD node {tag} {values[:6]}")
        ids.add(values[0])


def model_count(root: SddNode, var_count: int) -> int:
    """Models over ``var_count`` variables: a theory without atoms still gets a one-variable manager,
    whose spare variable would double the count."""
    return int(root.global_model_count()) >> (root.manager.var_count() - var_count)


def versions() -> dict[str, str]:
    out = {}
    for package in ("neurosym", "pysdd", "lark", "torch"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def _evaluate(node: SddNode, assignment: Sequence, memo: dict) -> bool:
    if node.is_true():
        return True
    if node.is_false():
        return False
    if node.is_literal():
        lit = node.literal
        return bool(assignment[abs(lit) - 1]) == (lit > 0)
    key = node.id
    if key not in memo:
        memo[key] = any(_evaluate(p, assignment, memo) and _evaluate(s, assignment, memo) for p, s in node.elements())
    return memo[key]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
