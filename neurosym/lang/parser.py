"""File → syntax tree: lark parses with ``grammars/neurosym.lark``; a Transformer builds the tree.

Includes are resolved relative to the including file and merged in order; a name declared twice
(also across includes) is an error at the second declaration.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from neurosym.errors import ConstraintSyntaxError, ConstraintTypeError, Location, NeurosymError
from neurosym.lang import syntax as s
from neurosym.resources import grammar_path

_REGEX_TERMINALS = {"NAME": "a name", "INT": "a number", "STRING": "a quoted string"}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        start="theory",
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def _describe_terminal(name: str) -> str:
    if name in _REGEX_TERMINALS:
        return _REGEX_TERMINALS[name]
    if name == "$END":
        return "end of file"
    for terminal in _parser().terminals:
        if terminal.name == name:
            return repr(terminal.pattern.value)
    return name


@v_args(meta=True, inline=True)
class _ToSyntax(Transformer):
    """Turns lark's parse tree into `neurosym.lang.syntax` nodes with source locations."""

    def __init__(self, file: str, text: str):
        super().__init__()
        self.file = file
        self.text = text

    def _loc(self, meta) -> Location:
        end = meta.end_column if getattr(meta, "end_line", None) == meta.line else None
        return Location(self.file, meta.line, meta.column, end, self.text)

    def _tok(self, token: Token) -> Location:
        return Location(self.file, token.line, token.column, token.column + len(token), self.text)

    def _name(self, token: Token, role: str) -> str:
        """A declared name; a keyword cannot be one, since the lexer would read it as the keyword."""
        if str(token) in _reserved_words():
            raise ConstraintSyntaxError(
                f"{str(token)!r} is a reserved word and cannot name {role}",
                self._tok(token),
                hint=f"reserved words: {', '.join(sorted(_reserved_words()))}",
            )
        return str(token)

    # declarations
    def theory(self, meta, *statements):
        return list(statements)

    def include(self, meta, path):
        return ("include", path[1:-1], self._loc(meta))

    def domain_decl(self, meta, name, *elements):
        for element in elements:
            if element.type == "NAME":
                self._name(element, 'a domain element (quote it: "name")')
            elif not s.ELEMENT_NAME.match(_element_name(element)):
                raise ConstraintSyntaxError(
                    f"element name {_element_name(element)!r} may hold only letters, digits, '_', '.' and '-'",
                    self._tok(element),
                )
        listed = tuple(_element_name(e) for e in elements) if _has_braces(meta, name) else None
        return s.DomainDecl(self._name(name, "a domain"), listed, self._loc(meta))

    def set_decl(self, meta, name, base, max_size=None):
        max_size = int(max_size) if max_size is not None else None
        return s.SetDomainDecl(self._name(name, "a set domain"), str(base), max_size, self._loc(meta))

    def relation_decl(self, meta, name, *domains):
        return s.RelationDecl(self._name(name, "a relation"), tuple(str(d) for d in domains), self._loc(meta))

    def observed(self, meta):
        return "observed"

    def hidden(self, meta):
        return "hidden"

    def predicted(self, meta):
        return "predicted"

    def predicate_decl(self, meta, kind, name, *domains):
        return s.PredicateDecl(self._name(name, "a predicate"), kind, tuple(str(d) for d in domains), self._loc(meta))

    def constraint_decl(self, meta, name, formula):
        return s.ConstraintDecl(self._name(name, "a constraint"), formula, self._loc(meta))

    # quantifiers and counting
    def binder_group(self, meta, *names):
        *variables, domain = names
        return tuple(s.Binder(self._name(v, "a variable"), str(domain), self._tok(v)) for v in variables)

    def binders(self, meta, *groups):
        return tuple(b for group in groups for b in group)

    def where(self, meta, condition):
        return ("where", condition)

    def _split(self, rest):
        if len(rest) == 2:
            return rest[0][1], rest[1]
        return None, rest[0]

    def forall(self, meta, binders, *rest):
        where, body = self._split(rest)
        return s.Quantified("forall", binders, where, body, self._loc(meta))

    def exists(self, meta, binders, *rest):
        where, body = self._split(rest)
        return s.Quantified("exists", binders, where, body, self._loc(meta))

    def exactly(self, meta, k):
        return ("exactly", int(k))

    def at_most(self, meta, k):
        return ("at_most", int(k))

    def at_least(self, meta, k):
        return ("at_least", int(k))

    def counting(self, meta, count, binders, *rest):
        where, body = self._split(rest)
        return s.Counting(count[0], count[1], binders, where, body, self._loc(meta))

    # connectives
    def _binary(op):  # noqa: N805 - a factory used while the class body runs
        def build(self, meta, left, right):
            return s.Binary(op, left, right, self._loc(meta))

        return build

    equiv = _binary("iff")
    xor = _binary("xor")
    implies = _binary("implies")
    or_ = _binary("or")
    and_ = _binary("and")

    def not_(self, meta, operand):
        return s.Not(operand, self._loc(meta))

    def true(self, meta):
        return s.Truth(True, self._loc(meta))

    def false(self, meta):
        return s.Truth(False, self._loc(meta))

    def atom(self, meta, name, *args):
        return s.Atom(str(name), tuple(args), self._loc(meta))

    # terms
    def name(self, meta, token):
        return s.Name(str(token), self._tok(token))

    def constant(self, meta, token):
        return s.Constant(_element_name(token), self._tok(token))

    def empty_set(self, meta):
        return s.EmptySet(self._loc(meta))

    def set_add(self, meta, base, element):
        return s.SetAdd(base, element, self._loc(meta))

    def set_remove(self, meta, base, element):
        return s.SetRemove(base, element, self._loc(meta))

    # conditions
    def neq(self, meta, left, right):
        return s.Compare(left, right, False, self._loc(meta))

    def eq(self, meta, left, right):
        return s.Compare(left, right, True, self._loc(meta))

    def member(self, meta, element, collection):
        return s.Member(element, collection, False, self._loc(meta))

    def not_member(self, meta, element, collection):
        return s.Member(element, collection, True, self._loc(meta))

    def distinct(self, meta, *terms):
        return s.Distinct(tuple(terms), self._loc(meta))

    def relation_test(self, meta, name, *args):
        return s.RelationTest(str(name), tuple(args), self._loc(meta))

    def cond_not(self, meta, operand):
        return s.CondNot(operand, self._loc(meta))

    def cond_and(self, meta, left, right):
        return s.CondJunction("and", left, right, self._loc(meta))

    def cond_or(self, meta, left, right):
        return s.CondJunction("or", left, right, self._loc(meta))


def _element_name(token: Token) -> str:
    text = str(token)
    return text[1:-1] if token.type == "STRING" else text


def _has_braces(meta, name: Token) -> bool:
    """Tell ``domain D = {}`` (no elements) from ``domain D`` (sized at compile time)."""
    return getattr(meta, "end_pos", 0) > name.end_pos


_COUNT_MISSPELLINGS = {"atmost", "atleast", "at_most", "at_least", "most", "least", "exact"}


@lru_cache(maxsize=1)
def _reserved_words() -> frozenset[str]:
    """The grammar's keywords (``forall``, ``in``, ``at``, …): they cannot name anything."""
    return frozenset(
        t.pattern.value for t in _parser().terminals if t.pattern.type == "str" and t.pattern.value.isalpha()
    )


def _syntax_error(error: UnexpectedInput, file: str, text: str) -> ConstraintSyntaxError:
    line, column = (error.line, error.column) if error.line > 0 else (1, 1)
    loc = Location(file, line, column, None, text)
    if isinstance(error, UnexpectedToken):
        offset = error.pos_in_stream
        if error.token.type == "$END":
            found, offset = "end of file", None
        else:
            found = repr(str(error.token))
            loc = Location(file, line, column, column + max(1, len(str(error.token))), text)
        expected = sorted({_describe_terminal(t) for t in error.accepts or error.expected})
        return ConstraintSyntaxError(
            f"unexpected {found}; expected one of: {', '.join(expected)}",
            loc,
            hint=_syntax_hint(text, offset, expected, str(error.token)),
        )
    if isinstance(error, UnexpectedCharacters):
        if error.char == '"':
            return ConstraintSyntaxError('unterminated string: a quoted name must end with " on the same line', loc)
        return ConstraintSyntaxError(
            f"unexpected character {error.char!r}; expected a name, a number, a keyword or "
            "one of ( ) { } , : = + - == != -> <->",
            loc,
        )
    return ConstraintSyntaxError(f"cannot parse this ({type(error).__name__})", loc)


def _syntax_hint(text: str, offset: int | None, expected: list[str], found: str) -> str | None:
    """Say what probably went wrong: an unclosed bracket, a misspelt count, or a comparison of
    variables inside a formula (it belongs in a `where` filter)."""
    before = text if offset is None else text[:offset]
    if found in ("==", "!=") and "'->'" in expected:  # after a formula, not inside a filter
        return (
            "`==` and `!=` compare bound variables in a `where` filter, not in a formula: "
            "`forall x, y in D where x != y: ...`"
        )
    if "')'" in expected or "'}'" in expected:
        opened = _unclosed_bracket(before)
        if opened is not None:
            bracket, at_line, at_column = opened
            return f"the {bracket!r} at line {at_line}, column {at_column} is not closed"
    words = before.split()
    if words and words[-1].lower() in _COUNT_MISSPELLINGS | {w + "s" for w in _COUNT_MISSPELLINGS}:
        return "a count is written `exactly K`, `at most K` or `at least K`, then the bound variables"
    return None


def _unclosed_bracket(text: str) -> tuple[str, int, int] | None:
    """The innermost bracket left open at the end of ``text`` (strings and comments skipped)."""
    stack: list[tuple[str, int, int]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        in_string = False
        for column, char in enumerate(line, start=1):
            if char == '"':
                in_string = not in_string
            elif in_string:
                continue
            elif char == "#":
                break
            elif char in "({":
                stack.append((char, number, column))
            elif char in ")}" and stack:
                stack.pop()
    return stack[-1] if stack else None


def parse_text(text: str, file: str = "<string>") -> list:
    """Parse one file's text into a list of declarations and ``("include", path, loc)`` items."""
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(error, file, text) from None
    try:
        return _ToSyntax(file, text).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, NeurosymError):
            raise error.orig_exc from None
        raise


def parse_file(path: str | Path) -> s.Theory:
    """Parse a `.ns` file and the files it includes, then type-check the whole theory."""
    path = Path(path)
    if path.is_dir():
        raise ConstraintSyntaxError(f"{path} is a folder; expected a constraint file (.ns)")
    if not path.is_file():
        raise ConstraintSyntaxError(f"constraint file not found: {path}")
    return _parse_root(str(path.resolve()), str(path), _read_disk)


def parse_sources(sources: dict[str, str], main: str) -> s.Theory:
    """Parse a theory from stored texts (``{absolute path: text}``), as a compiled artifact keeps them."""

    def read(path: str) -> str:
        if path not in sources:
            raise ConstraintSyntaxError(f"stored sources lack the included file {path}")
        return sources[path]

    return _parse_root(main, main, read)


def parse_string(text: str, name: str = "<string>") -> s.Theory:
    """Parse and check a theory given as text (includes resolve against the working folder)."""
    main = str(Path.cwd() / name)
    return _parse_root(main, name, lambda path: text if path == main else _read_disk(path))


def _read_disk(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConstraintSyntaxError(f"cannot read constraint file {path}: {error}") from None


def _parse_root(path: str, shown: str, read) -> s.Theory:
    from neurosym.lang.checker import check_theory

    theory = s.Theory(source=shown)
    _load_into(theory, path, read, stack=[], shown=shown)
    check_theory(theory)
    return theory


def _load_into(theory: s.Theory, path: str, read, stack: list[str], shown: str) -> None:
    text = read(path)
    theory.files.append(path)
    theory.texts[path] = text
    _merge(theory, parse_text(text, shown), Path(path).parent, read, stack=[*stack, path])


def _merge(theory: s.Theory, statements: list, folder: Path, read, stack: list[str]) -> None:
    for item in statements:
        if isinstance(item, tuple) and item[0] == "include":
            _, relative, loc = item
            target = os.path.normpath(folder / relative)
            if target in stack:
                chain = " -> ".join(Path(p).name for p in [*stack[stack.index(target) :], target])
                raise ConstraintSyntaxError(
                    f"include cycle: {chain}",
                    loc,
                    hint="a file may not include itself, "
                    "directly or through other files; move the shared declarations to one file",
                )
            if target in theory.files:
                continue
            if read is _read_disk and not Path(target).is_file():
                raise ConstraintSyntaxError(f"included file not found: {relative!r} (looked for {target})", loc)
            _load_into(theory, target, read, stack, shown=str(Path(loc.file).parent / relative))
            continue
        _declare(theory, item)


def _declare(theory: s.Theory, decl) -> None:
    if isinstance(decl, s.ConstraintDecl):
        table = theory.constraints
    elif isinstance(decl, (s.PredicateDecl, s.RelationDecl)):
        other = theory.relations if isinstance(decl, s.PredicateDecl) else theory.predicates
        if decl.name in other:
            raise ConstraintTypeError(
                f"{decl.name!r} is declared twice, as a predicate and as a relation (first at {other[decl.name].loc})",
                decl.loc,
            )
        table = theory.predicates if isinstance(decl, s.PredicateDecl) else theory.relations
    else:
        if decl.name in theory.domains or decl.name in theory.set_domains:
            first = (theory.domains.get(decl.name) or theory.set_domains[decl.name]).loc
            raise ConstraintTypeError(f"domain {decl.name!r} is declared twice (first at {first})", decl.loc)
        table = theory.domains if isinstance(decl, s.DomainDecl) else theory.set_domains
    if decl.name in table:
        kind = {id(theory.constraints): "constraint", id(theory.relations): "relation"}.get(id(table), "predicate")
        raise ConstraintTypeError(f"{kind} {decl.name!r} is declared twice (first at {table[decl.name].loc})", decl.loc)
    table[decl.name] = decl
