"""Bad input, end to end: every mistake a user can make raises a `NeurosymError` that says where
(file, line, column, the source line with a caret) and what was expected, and the CLI turns it into
a message with exit status 1, never a traceback."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import neurosym as ns
from neurosym.cli import app
from neurosym.compile.compiler import CompileOptions
from neurosym.errors import (
    ArtifactError,
    CompilationError,
    ConstraintSyntaxError,
    ConstraintTypeError,
    GroundingError,
    Location,
    NeurosymError,
)
from neurosym.ground.domains import parse_domain_option
from neurosym.resources import constraint_path

TRANSITIVITY = constraint_path("causal/transitivity.ns")
HEAD = "domain Node\nset Cond = subsets(Node, max 2)\npredicted p(Node)\npredicted q(Node, Cond)\n"
# HEAD takes four lines, so the first constraint after it is on line 5.


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path / "cache"))


def parse_error(tmp_path, text: str, name: str = "theory.ns") -> tuple[NeurosymError, str]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(NeurosymError) as caught:
        ns.parse_file(path)
    return caught.value, str(path)


def assert_points_at(error: NeurosymError, file: str, line: int, column: int, width: int | None = None) -> None:
    """The message starts with ``file:line:column:`` and shows that source line with a caret under the column."""
    message = str(error)
    assert message.startswith(f"{file}:{line}:{column}: "), message
    source_line = error.location.text.splitlines()[line - 1]
    shown, caret = message.splitlines()[1:3]
    assert shown == f"    {source_line}"
    assert caret.index("^") == 4 + column - 1, message
    if width is not None:
        assert caret.strip() == "^" * width, message


# (id, text, error class, line, column, caret width or None, fragments the message must hold)
SYNTAX = [
    (
        "missing colon after the constraint name",
        HEAD + "constraint c forall x in Node: p(x)\n",
        ConstraintSyntaxError,
        5,
        14,
        6,
        ["unexpected 'forall'", "expected one of: ':'"],
    ),
    (
        "missing colon after the binders",
        HEAD + "constraint c: forall x in Node p(x)\n",
        ConstraintSyntaxError,
        5,
        32,
        1,
        ["unexpected 'p'", "':'", "'where'"],
    ),
    (
        "unclosed parenthesis at end of file",
        HEAD + "constraint c: forall x in Node: (p(x) and p(x)\n",
        ConstraintSyntaxError,
        5,
        46,
        None,
        ["unexpected end of file", "')'", "'(' at line 5, column 33 is not closed"],
    ),
    (
        "unclosed parenthesis before the next constraint",
        HEAD + "constraint c: forall x in Node: (p(x) or\n  p(x)\nconstraint d: true\n",
        ConstraintSyntaxError,
        7,
        1,
        10,
        ["unexpected 'constraint'", "')'", "'(' at line 5, column 33 is not closed"],
    ),
    (
        "unclosed brace in a domain",
        "domain Label = {a, b\npredicted p(Label)\n",
        ConstraintSyntaxError,
        2,
        1,
        9,
        ["unexpected 'predicted'", "'}'", "'{' at line 1, column 16 is not closed"],
    ),
    (
        "bad token &",
        HEAD + "constraint c: forall x in Node: p(x) & p(x)\n",
        ConstraintSyntaxError,
        5,
        38,
        None,
        ["unexpected character '&'", "expected a name"],
    ),
    (
        "unicode connective",
        HEAD + "constraint c: forall x in Node: p(x) ∧ p(x)\n",
        ConstraintSyntaxError,
        5,
        38,
        None,
        ["unexpected character '∧'"],
    ),
    (
        "unterminated string in a domain",
        'domain Label = {"dog, cat}\n',
        ConstraintSyntaxError,
        1,
        17,
        None,
        ["unterminated string", 'end with "'],
    ),
    (
        "unterminated include path",
        'include "base.ns\ndomain Node\n',
        ConstraintSyntaxError,
        1,
        9,
        None,
        ["unterminated string"],
    ),
    (
        "count keyword run together",
        HEAD + "constraint c: atmost 1 x in Node: p(x)\n",
        ConstraintSyntaxError,
        5,
        22,
        1,
        ["unexpected '1'", "`at most K`"],
    ),
    (
        "count keyword misspelt",
        HEAD + "constraint c: at many 1 x in Node: p(x)\n",
        ConstraintSyntaxError,
        5,
        18,
        4,
        ["unexpected 'many'", "'least', 'most'"],
    ),
    (
        "count without a number",
        HEAD + "constraint c: exactly x in Node: p(x)\n",
        ConstraintSyntaxError,
        5,
        23,
        1,
        ["unexpected 'x'", "a number"],
    ),
    (
        "comparison in a formula",
        HEAD + "constraint c: forall x, y in Node: p(x) and x != y\n",
        ConstraintSyntaxError,
        5,
        47,
        2,
        ["unexpected '!='", "in a `where` filter, not in a formula"],
    ),
    (
        "unknown declaration kind",
        "domain Node\nlatent p(Node)\n",
        ConstraintSyntaxError,
        2,
        1,
        6,
        ["unexpected 'latent'", "'hidden'", "'observed'", "'predicted'"],
    ),
    (
        "formula missing at end of file",
        HEAD + "constraint c: forall x in Node:",
        ConstraintSyntaxError,
        5,
        31,
        None,
        ["unexpected end of file", "'forall'", "a name"],
    ),
    (
        "set size without max",
        "domain Node\nset Cond = subsets(Node, 2)\n",
        ConstraintSyntaxError,
        2,
        26,
        1,
        ["unexpected '2'", "'max'"],
    ),
    (
        "element name with a space",
        'domain Label = {dog, "big cat"}\n',
        ConstraintSyntaxError,
        1,
        22,
        9,
        ["element name 'big cat' may hold only letters, digits"],
    ),
    (
        "keyword used as a domain name",
        "domain forall\n",
        ConstraintSyntaxError,
        1,
        8,
        6,
        ["'forall' is a reserved word", "cannot name a domain"],
    ),
    (
        "keyword used as a variable",
        HEAD + "constraint c: forall at in Node: p(at)\n",
        ConstraintSyntaxError,
        5,
        22,
        2,
        ["'at' is a reserved word", "cannot name a variable"],
    ),
]

TYPES = [
    (
        "unknown predicate",
        HEAD + "constraint c: forall x in Node: r(x)\n",
        5,
        33,
        4,
        ["unknown predicate 'r'", "declared predicates: p, q"],
    ),
    (
        "unknown domain in a quantifier",
        HEAD + "constraint c: forall x in Nodes: p(x)\n",
        5,
        22,
        None,
        ["unknown domain 'Nodes'", "declared domains: Node, Cond"],
    ),
    (
        "unknown domain in a predicate",
        "domain Node\npredicted p(Nodes)\n",
        2,
        1,
        None,
        ["predicate 'p' uses unknown domain 'Nodes'", "declared domains: Node"],
    ),
    (
        "set domain over an unknown base",
        "domain Node\nset Cond = subsets(Edge, max 2)\n",
        2,
        1,
        None,
        ["built from 'Edge'", "not declared", "expected a plain domain"],
    ),
    (
        "too many arguments",
        HEAD + "constraint c: forall x, y in Node: p(x, y)\n",
        5,
        36,
        7,
        ["'p' takes 1 argument(s) (Node), got 2"],
    ),
    (
        "too few arguments",
        HEAD + "constraint c: forall x in Node: q(x)\n",
        5,
        33,
        4,
        ["'q' takes 2 argument(s) (Node, Cond), got 1"],
    ),
    (
        "set where an element is expected",
        HEAD + "constraint c: forall Z in Cond: p(Z)\n",
        5,
        35,
        1,
        ["argument of 'p' must be an element of domain Node", "set domain Cond"],
    ),
    (
        "element where a set is expected",
        HEAD + "constraint c: forall x, y in Node: q(x, y)\n",
        5,
        41,
        1,
        ["argument of 'q' must be an element of set domain Cond", "element of domain Node"],
    ),
    (
        "element added to an element",
        HEAD + "constraint c: forall x, y in Node: q(x, x + y)\n",
        5,
        41,
        1,
        ["`+` needs a set on its left", "domain Node"],
    ),
    (
        "`in` with an element on the right",
        HEAD + "constraint c: forall x, y in Node where x in y: p(x)\n",
        5,
        46,
        1,
        ["`in` needs a set on its right"],
    ),
    ("empty set as an element", HEAD + "constraint c: p({})\n", 5, 17, 2, ["`{}` is a set", "domain Node is expected"]),
    (
        "unbound variable",
        HEAD + "constraint c: forall x in Node: q(x, Z)\n",
        5,
        38,
        1,
        ["unbound variable 'Z'", "bind it with forall/exists/exactly"],
    ),
    (
        "unused quantified variable",
        HEAD + "constraint c: forall x, y in Node: p(x)\n",
        5,
        25,
        1,
        ["variable 'y' is bound but never used", "remove it"],
    ),
    (
        "variable bound twice",
        HEAD + "constraint c: forall x in Node: exists x in Node: p(x)\n",
        5,
        40,
        1,
        ["variable 'x' is bound twice (outer scope)"],
    ),
    (
        "constant outside a listed domain",
        'domain Label = {dog, cat}\npredicted has(Label)\nconstraint c: has("cow")\n',
        3,
        19,
        5,
        ["'cow' is not an element of domain 'Label'", "its elements: dog, cat"],
    ),
    ("element listed twice", "domain Label = {dog, cat, dog}\n", 1, 1, None, ["element 'dog' is listed twice"]),
    (
        "duplicate constraint name",
        HEAD + "constraint c: true\nconstraint c: false\n",
        6,
        1,
        None,
        ["constraint 'c' is declared twice", "first at", ":5:1"],
    ),
    ("duplicate predicate", HEAD + "observed p(Node)\n", 5, 1, None, ["predicate 'p' is declared twice", ":3:1"]),
    ("duplicate domain", HEAD + "domain Cond\n", 5, 1, None, ["domain 'Cond' is declared twice", ":2:1"]),
    (
        "hidden predicate no constraint mentions",
        HEAD + "hidden h(Node)\nconstraint c: forall x in Node: p(x)\n",
        5,
        1,
        None,
        ["hidden predicate 'h' is declared but no constraint mentions it", "defined by the constraints"],
    ),
    (
        "hidden predicate in a where filter",
        HEAD + "hidden h(Node)\nconstraint c: forall x in Node where h(x): p(x)\n",
        6,
        38,
        4,
        ["hidden predicate 'h' cannot be tested in a `where` filter", "declare a `relation`"],
    ),
    (
        "relation used as a formula",
        HEAD + "relation r(Node)\nconstraint c: forall x in Node: r(x) -> p(x)\n",
        6,
        33,
        4,
        ["relation 'r' is known at compile time", "test it in a `where` filter"],
    ),
    (
        "relation over a set domain",
        HEAD + "relation r(Cond)\n",
        5,
        1,
        None,
        ["relation 'r' is over 'Cond'", "set domain"],
    ),
    (
        "relation and predicate of one name",
        HEAD + "relation p(Node)\n",
        5,
        1,
        None,
        ["'p' is declared twice, as a predicate and as a relation", ":3:1"],
    ),
]


@pytest.mark.parametrize(
    "text, kind, line, column, width, fragments", [case[1:] for case in SYNTAX], ids=[case[0] for case in SYNTAX]
)
def test_syntax_errors_point_at_the_token_and_say_what_was_expected(
    tmp_path, text, kind, line, column, width, fragments
):
    error, path = parse_error(tmp_path, text)
    assert type(error) is kind
    assert_points_at(error, path, line, column, width)
    for fragment in fragments:
        assert fragment in str(error)


@pytest.mark.parametrize(
    "text, line, column, width, fragments", [case[1:] for case in TYPES], ids=[case[0] for case in TYPES]
)
def test_type_errors_point_at_the_offending_name(tmp_path, text, line, column, width, fragments):
    error, path = parse_error(tmp_path, text)
    assert type(error) is ConstraintTypeError
    assert_points_at(error, path, line, column, width)
    for fragment in fragments:
        assert fragment in str(error)


def test_a_bad_comparison_inside_a_filter_gets_no_where_hint(tmp_path):
    error, _ = parse_error(tmp_path, HEAD + "constraint c: forall x, y in Node where x == == y: p(x)\n")
    assert "unexpected '=='" in str(error) and "filter" not in str(error)


def test_a_theory_given_as_a_string_still_shows_its_line():
    with pytest.raises(ConstraintTypeError) as caught:
        ns.parse_string(HEAD + "constraint c: forall x in Node: r(x)\n", name="inline.ns")
    assert_points_at(caught.value, "inline.ns", 5, 33, 4)


def test_caret_stays_under_the_token_after_tabs():
    error = NeurosymError("here", Location("t.ns", 1, 3, 4, "\t\tx\n"))
    assert str(error).splitlines()[2] == "    \t\t^"


def test_missing_include_names_the_file_it_looked_for(tmp_path):
    error, path = parse_error(tmp_path, 'domain Node\ninclude "shared/base.ns"\n')
    assert type(error) is ConstraintSyntaxError
    assert_points_at(error, path, 2, 1)
    assert "included file not found: 'shared/base.ns'" in str(error)
    assert str(tmp_path / "shared" / "base.ns") in str(error)


def test_include_cycle_shows_the_chain(tmp_path):
    (tmp_path / "b.ns").write_text('domain Node\ninclude "c.ns"\n')
    (tmp_path / "c.ns").write_text('include "a.ns"\n')
    error, _ = parse_error(tmp_path, 'include "b.ns"\n', name="a.ns")
    assert type(error) is ConstraintSyntaxError
    assert "include cycle: a.ns -> b.ns -> c.ns -> a.ns" in str(error)
    assert str(error).startswith(f"{tmp_path / 'c.ns'}:1:1:")
    assert '    include "a.ns"' in str(error)


def test_error_in_an_included_file_names_that_file(tmp_path):
    (tmp_path / "base.ns").write_text("domain Node\npredicted p(Node\n")
    error, _ = parse_error(tmp_path, 'include "base.ns"\nconstraint c: forall x in Node: p(x)\n')
    assert str(error).startswith(f"{tmp_path / 'base.ns'}:2:13: unexpected end of file; expected one of: ')', ','")
    assert "    predicted p(Node" in str(error)
    assert "the '(' at line 2, column 12 is not closed" in str(error)


def test_constraint_file_missing_or_a_folder(tmp_path):
    with pytest.raises(ConstraintSyntaxError, match="constraint file not found: .*nothere.ns"):
        ns.parse_file(tmp_path / "nothere.ns")
    with pytest.raises(ConstraintSyntaxError, match="is a folder; expected a constraint file"):
        ns.parse_file(tmp_path)
    (tmp_path / "binary.ns").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConstraintSyntaxError, match="cannot read constraint file .*binary.ns"):
        ns.parse_file(tmp_path / "binary.ns")


# ---- grounding: domains given at compile time ---------------------------------------------------


def test_domain_missing_at_compile_time_points_at_its_declaration():
    with pytest.raises(GroundingError) as caught:
        ns.compile(TRANSITIVITY, {}, cache=False)
    assert_points_at(caught.value, str(TRANSITIVITY), 2, 1)
    assert "domain 'Node' needs a size or element list at compile time" in str(caught.value)
    assert "--domain Node=4" in str(caught.value)


@pytest.mark.parametrize(
    "domains, fragment",
    [
        ({"Nodes": 3}, "unknown domain 'Nodes' given at compile time; the theory's domains: Node"),
        ({"Node": -1}, "size must be non-negative, got -1"),
        ({"Node": 2.5}, "expected a size or a list of element names, got 2.5"),
        ({"Node": True}, "expected a size or a list of element names, got True"),
        ({"Node": ["a", "a"]}, "element 'a' is listed twice"),
        ({"Node": ["a b"]}, "element name 'a b' may hold only"),
    ],
)
def test_bad_domain_values_name_the_value(domains, fragment):
    with pytest.raises(GroundingError, match="domain") as caught:
        ns.compile(TRANSITIVITY, domains, cache=False)
    assert fragment in str(caught.value)


def test_a_set_domain_or_a_listed_domain_cannot_be_given_a_size(tmp_path):
    (tmp_path / "t.ns").write_text(
        "domain Label = {a, b}\ndomain Node\nset Cond = subsets(Node)\n"
        "predicted p(Label)\npredicted q(Cond)\nconstraint c: p(a) or q({})\n"
    )
    with pytest.raises(GroundingError, match="'Cond' is a set domain .*give the size of 'Node' instead"):
        ns.compile(tmp_path / "t.ns", {"Node": 2, "Cond": 3}, cache=False)
    with pytest.raises(GroundingError, match="'Label' lists its elements in the file") as caught:
        ns.compile(tmp_path / "t.ns", {"Node": 2, "Label": 3}, cache=False)
    assert_points_at(caught.value, str(tmp_path / "t.ns"), 1, 1)


@pytest.mark.parametrize(
    "option, fragment",
    [
        ("Node", "--domain expects NAME=SIZE or NAME=a,b,c; got 'Node'"),
        ("Node=", "--domain expects NAME=SIZE"),
        ("=4", "--domain expects NAME=SIZE"),
        ("Node=-2", "a size must be a whole number of at least 0; got '-2'"),
        ("Node=3.5", "a size must be a whole number of at least 0; got '3.5'"),
        ("Node=a,,b", "an element name is empty"),
    ],
)
def test_bad_domain_option_values(option, fragment):
    with pytest.raises(GroundingError) as caught:
        parse_domain_option(option)
    assert fragment in str(caught.value)


def test_good_domain_options_parse():
    assert parse_domain_option(" Node = 4 ") == ("Node", 4)
    assert parse_domain_option("Node=A, B,C") == ("Node", ["A", "B", "C"])


# ---- compilation: unsatisfiable theories, budgets, options -----------------------------------------


def test_unsatisfiable_theory_names_the_constraints_involved(tmp_path):
    (tmp_path / "clash.ns").write_text(
        "domain Node\npredicted p(Node)\npredicted q(Node)\n"
        "constraint free: forall x in Node: q(x) or not q(x)\n"
        "constraint all: forall x in Node: p(x)\n"
        "constraint some_q: exists x in Node: q(x)\n"
        "constraint one_not: exists x in Node: not p(x)\n"
    )
    with pytest.raises(CompilationError) as caught:
        ns.compile(tmp_path / "clash.ns", {"Node": 3}, cache=False)
    message = str(caught.value)
    assert "theory 'clash' is unsatisfiable with Node=3" in message
    assert "the constraints 'all', 'one_not' cannot hold together" in message
    assert "'free'" not in message and "'some_q'" not in message
    # satisfiable with an empty domain: `exists` over nothing is false, but then `one_not` is too
    with pytest.raises(CompilationError, match="'one_not'"):
        ns.compile(tmp_path / "clash.ns", {"Node": 0}, cache=False)


def test_max_size_budget_names_theory_domains_and_what_to_try():
    with pytest.raises(CompilationError) as caught:
        ns.compile(TRANSITIVITY, {"Node": 5}, cache=False, max_size=100)
    message = str(caught.value)
    assert "compiling theory 'transitivity' with Node=5 (40 variables) reached SDD size" in message
    assert "> --max-size 100" in message
    assert "try smaller domain sizes" in message and "--timeout/--max-size" in message


def test_timeout_budget_names_theory_domains_and_what_to_try():
    with pytest.raises(CompilationError) as caught:
        ns.compile(TRANSITIVITY, {"Node": 6}, cache=False, timeout=1e-6)
    message = str(caught.value)
    assert "compiling theory 'transitivity' with Node=6 (60 variables) ran past 1e-06 s" in message
    assert "try smaller domain sizes" in message


@pytest.mark.parametrize(
    "fields, fragment",
    [
        (
            {"order": "random"},
            "'order' (--order) must be one of auto, grouped, min-fill, min-degree, natural; got 'random'",
        ),
        ({"vtree": "left"}, "'vtree' (--vtree) must be one of"),
        ({"minimize": "always"}, "'minimize' (--minimize) must be one of none, final, dynamic"),
        ({"max_size": 0}, "'max_size' (--max-size) must be a whole number of at least 1; got 0"),
        ({"timeout": -1}, "'timeout' (--timeout) must be a number of at least 0; got -1"),
        ({"minimize_seconds": "5"}, "'minimize_seconds' (--minimize-seconds) must be a number"),
        ({"ordering": "natural"}, "unknown compile option 'ordering'; the options are order, vtree"),
    ],
)
def test_bad_compile_options(fields, fragment):
    with pytest.raises(CompilationError) as caught:
        ns.compile(TRANSITIVITY, {"Node": 3}, cache=False, **fields)
    assert fragment in str(caught.value)


def test_options_and_option_keywords_together_are_refused():
    with pytest.raises(CompilationError, match="either options=CompileOptions"):
        ns.compile(TRANSITIVITY, {"Node": 3}, cache=False, options=CompileOptions(), order="natural")


# ---- artifacts ----------------------------------------------------------------------------------------


@pytest.fixture
def artifact(tmp_path):
    return ns.compile(TRANSITIVITY, {"Node": 3}, cache=False, output=tmp_path / "art").folder


def rewrite_manifest(folder, **changes) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_tampered_sdd_is_refused(artifact):
    sdd = artifact / "circuit.sdd"
    sdd.write_text(sdd.read_text() + "c an innocent-looking comment\n")
    with pytest.raises(
        ArtifactError, match="circuit.sdd does not match the hash in .*manifest.json; the artifact was modified"
    ):
        ns.load_circuit(artifact)


def test_forged_hash_over_a_broken_sdd_is_refused_before_pysdd_reads_it(artifact):
    """PySDD ends the whole process on a malformed file, so the loader must catch it first."""
    for broken in ("garbage\n", "sdd 2\nT 0\n", "sdd 1\nD 0 1 1 5 6\n", "sdd 1\nL 0 0 99\n"):
        (artifact / "circuit.sdd").write_text(broken)
        rewrite_manifest(
            artifact,
            files={
                "circuit.sdd": hashlib.sha256(broken.encode()).hexdigest(),
                "circuit.vtree": hashlib.sha256((artifact / "circuit.vtree").read_bytes()).hexdigest(),
            },
        )
        with pytest.raises(ArtifactError, match="circuit.sdd: "):
            ns.load_circuit(artifact)


def test_missing_manifest_and_missing_folder(artifact, tmp_path):
    (artifact / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="is not a compiled circuit: manifest.json is missing") as caught:
        ns.load_circuit(artifact)
    assert "neurosym compile" in str(caught.value)
    with pytest.raises(ArtifactError, match="nowhere does not exist"):
        ns.load_circuit(tmp_path / "nowhere")
    with pytest.raises(ArtifactError, match="is a file, not an artifact folder"):
        ns.load_circuit(TRANSITIVITY)


def test_wrong_format_version(artifact):
    rewrite_manifest(artifact, format=99)
    with pytest.raises(ArtifactError, match="artifact format 99, this neurosym reads 1"):
        ns.load_circuit(artifact)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "unreadable manifest"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"format": 1}', "manifest lacks theory, atoms"),
    ],
)
def test_malformed_manifest(artifact, content, fragment):
    (artifact / "manifest.json").write_text(content)
    with pytest.raises(ArtifactError) as caught:
        ns.load_circuit(artifact)
    assert fragment in str(caught.value)


def test_manifest_fields_of_the_wrong_type(artifact):
    rewrite_manifest(artifact, files="circuit.sdd")
    with pytest.raises(ArtifactError, match="'files' should be a dict, got str"):
        ns.load_circuit(artifact)


def test_missing_vtree_file(artifact):
    (artifact / "circuit.vtree").unlink()
    with pytest.raises(ArtifactError, match="circuit.vtree is missing"):
        ns.load_circuit(artifact)


def test_unwritable_output_folder_is_an_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="cannot write the artifact folder"):
        ns.compile(TRANSITIVITY, {"Node": 3}, cache=False, output=TRANSITIVITY / "out")


def test_failed_compile_leaves_an_existing_output_folder_as_it_was(artifact):
    before = {p.name: p.read_bytes() for p in artifact.iterdir()}
    with pytest.raises(CompilationError):
        ns.compile(TRANSITIVITY, {"Node": 5}, cache=False, output=artifact, max_size=50)
    assert {p.name: p.read_bytes() for p in artifact.iterdir()} == before


# ---- the command line: a message and exit status 1, never a traceback ----------------------------


def cli(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize(
    "make_args, fragment",
    [
        (lambda tmp, bad: ["check", bad], "theory.ns:1:8: 'forall' is a reserved word"),
        (lambda tmp, bad: ["check", tmp / "none.ns"], "constraint file not found"),
        (lambda tmp, bad: ["compile", bad, "-d", "Node=3"], "reserved word"),
        (lambda tmp, bad: ["compile", TRANSITIVITY], "domain 'Node' needs a size"),
        (lambda tmp, bad: ["compile", TRANSITIVITY, "-d", "Node=x,,y"], "an element name is empty"),
        (
            lambda tmp, bad: ["compile", TRANSITIVITY, "-d", "Node=3", "--order", "best"],
            "'order' (--order) must be one of",
        ),
        (lambda tmp, bad: ["compile", TRANSITIVITY, "-d", "Node=5", "--max-size", "10"], "--max-size 10"),
        (
            lambda tmp, bad: ["compile", TRANSITIVITY, "-d", "Node=3", "-o", TRANSITIVITY / "out"],
            "cannot write the artifact",
        ),
        (lambda tmp, bad: ["inspect", tmp], "manifest.json is missing"),
        (lambda tmp, bad: ["inspect", tmp / "nowhere"], "does not exist"),
    ],
)
def test_cli_reports_errors_without_traceback(tmp_path, make_args, fragment):
    bad = tmp_path / "theory.ns"
    bad.write_text("domain forall\n")
    result = cli(*make_args(tmp_path, bad))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    assert fragment in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_cli_inspect_unknown_constraint_and_tampered_artifact(artifact):
    result = cli("inspect", artifact, "--ground", "transitiv")
    assert result.exit_code == 1
    assert "no constraint 'transitiv'; the theory has direct, transitive, asymmetric" in result.stderr
    shutil.copy(artifact / "circuit.vtree", artifact / "circuit.sdd")
    result = cli("inspect", artifact)
    assert result.exit_code == 1 and "does not match the hash" in result.stderr


def test_python_m_neurosym_exits_1_with_a_message(tmp_path):
    """The real entry point, as a user runs it: stderr holds the message and no traceback."""
    bad = tmp_path / "bad.ns"
    bad.write_text("domain Node\npredicted p(Node)\nconstraint c: forall x in Node: p(x) &\n")
    done = subprocess.run(
        [sys.executable, "-m", "neurosym", "compile", str(bad), "-d", "Node=3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {bad}:3:38: unexpected character '&'")
    assert "^" in done.stderr and "Traceback" not in done.stderr
