"""What the core's code passes to the texts it renders, read from its source with `ast`.

`flows/system_texts.py` declares, for each system text, the `{{ context.* }}` keys and the
count it is said with, and the context of each flow a feature starts; `onramp check`
type-checks templates against those declarations. These readers find every call site in the
code, so a test holds the declarations to the code and the two cannot drift apart silently.

A key is followed through string literals, f-strings, `a if c else b`, `a or b`, the nearest
assignment of a name, module constants, a function's parameters (to every call of that
function) and a dataclass field (to every construction of that class). What cannot be followed
comes back as None, and the test says where.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "flows", "adapters")
DEPTH = 12  # how many hops (parameter to caller, field to constructor) a key is followed


@dataclass(frozen=True)
class TextCall:
    """One `….system_text(key, count, **context)` call."""

    where: str  # file:line
    keys: frozenset[str] | None  # None: computed in a way this reader cannot follow
    counted: bool
    context: frozenset[str] | None  # None: a `**mapping` this reader cannot follow


@dataclass(frozen=True)
class FlowStart:
    """One `start_flow(turn, flow, context)` call, and the names its function uses."""

    where: str
    context: frozenset[str] | None  # None: a mapping this reader cannot follow
    names: frozenset[str]


@dataclass(frozen=True)
class _Site:
    file: str
    module: ast.Module
    function: ast.FunctionDef | ast.AsyncFunctionDef | None
    node: ast.AST


class Source:
    """Every module of the packages, parsed once."""

    def __init__(self) -> None:
        self._following: set[tuple[str, frozenset[str] | None]] = set()
        # While one call of a forwarding function is followed: its parameters' arguments.
        self._bound: dict[str, tuple[ast.expr, _Site]] = {}
        self._bound_in: ast.AST | None = None

    @cached_property
    def modules(self) -> dict[str, ast.Module]:
        return {
            str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
            for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))
        }

    @cached_property
    def parents(self) -> dict[ast.AST, ast.AST]:
        found: dict[ast.AST, ast.AST] = {}
        for module in self.modules.values():
            for node in ast.walk(module):
                for child in ast.iter_child_nodes(node):
                    found[child] = node
        return found

    def calls(self) -> list[_Site]:
        return self._calls

    @cached_property
    def _calls(self) -> list[_Site]:
        return [
            _Site(file, module, self.function_of(node), node)
            for file, module in self.modules.items()
            for node in ast.walk(module)
            if isinstance(node, ast.Call)
        ]

    def function_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return None

    # Following a value --------------------------------------------------------------------
    def strings(self, node: ast.expr, site: _Site, depth: int = 0) -> frozenset[str] | None:
        """Every string an expression can be (None is left out); None if it cannot be told."""
        if depth > DEPTH:
            return None
        match node:
            case ast.Constant(value=None):
                return frozenset()
            case ast.Constant(value=str(value)):
                return frozenset({value})
            case ast.JoinedStr(values=parts):
                return self._formatted(parts, site, depth)
            case ast.IfExp(body=body, orelse=orelse):
                return self._union([body, orelse], site, depth)
            case ast.BoolOp(values=operands):
                return self._union(operands, site, depth)
            case ast.Name(id=name):
                return self._union(self._values_of(name, site, depth), site, depth)
            case ast.Attribute(value=owner, attr=attribute):
                classes = _annotated_classes(owner, site)
                following = (attribute, frozenset(classes) if classes is not None else None)
                if following in self._following:
                    return frozenset()  # a field given itself (copied along): nothing new
                self._following.add(following)
                try:
                    values = self._field_values(attribute, classes)
                    return self._union(values, site, depth + 1)
                finally:
                    self._following.discard(following)
        return None

    def _union(
        self, nodes: list[ast.expr] | list[tuple[ast.expr, _Site]], site: _Site, depth: int
    ) -> frozenset[str] | None:
        if not nodes:
            return None
        found: set[str] = set()
        for item in nodes:
            node, where = item if isinstance(item, tuple) else (item, site)
            values = self.strings(node, where, depth + 1)
            if values is None:
                return None
            found |= values
        return frozenset(found)

    def _formatted(self, parts: list[ast.expr], site: _Site, depth: int) -> frozenset[str] | None:
        pieces: list[frozenset[str] | None] = []
        for part in parts:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                pieces.append(frozenset({part.value}))
            elif isinstance(part, ast.FormattedValue):
                pieces.append(self.strings(part.value, site, depth + 1))
        if all(p is not None for p in pieces):
            return frozenset("".join(c) for c in itertools.product(*pieces))  # type: ignore[arg-type]
        # A part that cannot be followed: every declared key the pattern fits.
        pattern = "".join(
            "[a-z0-9_]+" if p is None else "(?:" + "|".join(map(re.escape, p)) + ")" for p in pieces
        )
        return frozenset({f"re:{pattern}"})

    def _values_of(self, name: str, site: _Site, depth: int) -> list[tuple[ast.expr, _Site]]:
        """What `name` holds at `site`: the nearest assignment in the enclosing blocks (each
        branch of an `if` or `match` before it), the item of an enclosing `for` over literals,
        a parameter's arguments at every call of the function, or a module constant."""
        if name in self._bound and site.function is self._bound_in:
            return [self._bound[name]]
        node: ast.AST = site.node
        function = site.function
        while function is not None:
            while node is not function:
                parent = self.parents[node]
                if isinstance(parent, ast.For) and node in parent.body:
                    items = _for_items(parent, name)
                    if items is not None:
                        return [(item, site) for item in items]
                for block in _blocks(parent):
                    if node in block:
                        before = block[: block.index(node)]  # type: ignore[arg-type]
                        found: list[ast.expr] = []
                        for statement in reversed(before):
                            values, complete = _assigned(statement, name)
                            found += values
                            if complete:
                                return [(value, site) for value in found]
                        if found:
                            return [(value, site) for value in found]
                node = parent
            forwarded = self._arguments(function, site.file, name, depth)
            if forwarded is not None:
                return forwarded
            outer = self.function_of(function)  # a closure reads its enclosing function's names
            node, function = function, outer
            site = _Site(site.file, site.module, outer, node)
        for statement in site.module.body:
            values, _ = _assigned(statement, name)
            if values:
                return [(value, _Site(site.file, site.module, None, statement)) for value in values]
        return []

    def _arguments(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, file: str, name: str, depth: int
    ) -> list[tuple[ast.expr, _Site]] | None:
        parameters = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
        keywords = [a.arg for a in function.args.kwonlyargs]
        if name not in parameters and name not in keywords:
            return None
        default = _default(function, name)
        found: list[tuple[ast.expr, _Site]] = []
        for call in self.calls():
            assert isinstance(call.node, ast.Call)
            if not _calls(call.node, function.name, file):
                continue
            given = next((k.value for k in call.node.keywords if k.arg == name), None)
            if given is None and name in parameters:
                position = parameters.index(name)
                if position < len(call.node.args):
                    given = call.node.args[position]
            if given is not None:
                found.append((given, call))
            elif default is not None:
                found.append((default, _Site(call.file, call.module, function, default)))
        return found

    def _field_values(
        self, attribute: str, classes: set[str] | None
    ) -> list[tuple[ast.expr, _Site]]:
        """What a dataclass field named `attribute` is given wherever its class is built (one
        of `classes`, when the owner's type is annotated)."""
        found: list[tuple[ast.expr, _Site]] = []
        for file, module in self.modules.items():
            for cls in (n for n in ast.walk(module) if isinstance(n, ast.ClassDef)):
                if classes is not None and cls.name not in classes:
                    continue
                fields = [
                    s.target.id
                    for s in cls.body
                    if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                ]
                if attribute not in fields:
                    continue
                position = fields.index(attribute)
                for call in self.calls():
                    assert isinstance(call.node, ast.Call)
                    if _called(call.node) != cls.name:
                        continue
                    given = next((k.value for k in call.node.keywords if k.arg == attribute), None)
                    if given is None and position < len(call.node.args):
                        given = call.node.args[position]
                    if given is not None:
                        found.append((given, call))
                del file
        return found

    def mapping_keys(self, node: ast.expr, site: _Site, depth: int = 0) -> frozenset[str] | None:
        """The keys of a dict literal, `dict(a=…)`, or a `**kwargs` parameter (the keywords
        every caller passes)."""
        if isinstance(node, ast.Dict) and all(
            isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys
        ):
            return frozenset(str(k.value) for k in node.keys if isinstance(k, ast.Constant))
        if isinstance(node, ast.Name) and site.function is not None:
            variadic = site.function.args.kwarg
            if variadic is not None and variadic.arg == node.id:
                return self._forwarded_keywords(site.function, depth)
            values = self._values_of(node.id, site, depth)
            keys = [self.mapping_keys(value, where, depth + 1) for value, where in values]
            if keys and all(k is not None for k in keys):
                return frozenset().union(*keys)  # type: ignore[arg-type]
        return None

    def _forwarded_keywords(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
    ) -> frozenset[str] | None:
        found: set[str] = set()
        for call in self.calls():
            assert isinstance(call.node, ast.Call)
            if _called(call.node) == function.name:
                named = {k.arg for k in call.node.keywords}
                if None in named or depth > DEPTH:
                    return None
                found |= {str(k) for k in named}
        return frozenset(found)

    def callers(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, file: str
    ) -> Iterator[tuple[_Site, dict[str, tuple[ast.expr, _Site]], set[str]]]:
        """Each call of `function`: its arguments by parameter, and the keywords left over
        for a `**kwargs` parameter."""
        parameters = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
        keywords = {a.arg for a in function.args.kwonlyargs} | set(parameters)
        for call in self.calls():
            assert isinstance(call.node, ast.Call)
            if not _calls(call.node, function.name, file):
                continue
            bound = {p: (a, call) for p, a in zip(parameters, call.node.args, strict=False)}
            extra = set()
            for keyword in call.node.keywords:
                if keyword.arg in keywords:
                    bound[keyword.arg] = (keyword.value, call)
                elif keyword.arg is not None:
                    extra.add(keyword.arg)
            yield call, bound, extra

    def strings_bound(
        self, node: ast.expr, site: _Site, bound: dict[str, tuple[ast.expr, _Site]]
    ) -> frozenset[str] | None:
        """`strings` with the enclosing function's parameters given by one call."""
        self._bound, self._bound_in = bound, site.function
        try:
            return self.strings(node, site)
        finally:
            self._bound, self._bound_in = {}, None


def _annotated_classes(owner: ast.expr, site: _Site) -> set[str] | None:
    """The classes a parameter's annotation names (`reason: parse.Rejected | None`)."""
    if not isinstance(owner, ast.Name) or site.function is None:
        return None
    arguments = site.function.args
    for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
        if argument.arg == owner.id and argument.annotation is not None:
            names = {
                n.attr if isinstance(n, ast.Attribute) else n.id
                for n in ast.walk(argument.annotation)
                if isinstance(n, ast.Attribute | ast.Name)
            }
            return names - {"None"}
    return None


def _called(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _blocks(node: ast.AST) -> list[list[ast.stmt]]:
    return [
        getattr(node, name)
        for name in ("body", "orelse", "finalbody")
        if isinstance(getattr(node, name, None), list)
    ]


def _assigned(statement: ast.stmt, name: str) -> tuple[list[ast.expr], bool]:
    """The values a statement may give `name`, and whether it surely gives one."""
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            if isinstance(target, ast.Name) and target.id == name:
                return [statement.value], True
            if isinstance(target, ast.Tuple) and isinstance(statement.value, ast.Tuple):
                for part, value in zip(target.elts, statement.value.elts, strict=False):
                    if isinstance(part, ast.Name) and part.id == name:
                        return [value], True
    if (
        isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and statement.target.id == name
        and statement.value is not None
    ):
        return [statement.value], True
    branches: list[list[ast.stmt]] = []
    if isinstance(statement, ast.If):
        branches = [statement.body, statement.orelse]
    elif isinstance(statement, ast.Match):
        branches = [case.body for case in statement.cases]
    elif isinstance(statement, ast.With | ast.AsyncWith):
        branches = [statement.body]
    elif isinstance(statement, ast.For | ast.AsyncFor | ast.While | ast.Try):
        # May run or not: what they assign adds to what came before, never replaces it.
        branches = [statement.body, []]
    found: list[ast.expr] = []
    complete = bool(branches)
    for branch in branches:
        given = False
        for inner in reversed(branch):
            values, surely = _assigned(inner, name)
            found += values
            if surely:
                given = True
                break
        complete = complete and given
    return found, complete


def _calls(call: ast.Call, function: str, file: str) -> bool:
    """Whether `call` calls the function `function` of module `file`: by its name, or as an
    attribute of its module (`offers.withdraw`, not `store.withdraw`)."""
    if isinstance(call.func, ast.Name):
        return call.func.id == function
    if isinstance(call.func, ast.Attribute) and call.func.attr == function:
        base = call.func.value
        return isinstance(base, ast.Name) and base.id == Path(file).stem
    return False


def _for_items(loop: ast.For, name: str) -> list[ast.expr] | None:
    """The values `name` takes in `for name in ("a", "b")` or `for name, x in (("a", 1),)`."""
    if not isinstance(loop.iter, ast.Tuple | ast.List):
        return None
    items = loop.iter.elts
    if isinstance(loop.target, ast.Name) and loop.target.id == name:
        return list(items)
    if isinstance(loop.target, ast.Tuple):
        for position, part in enumerate(loop.target.elts):
            if isinstance(part, ast.Name) and part.id == name:
                return [
                    item.elts[position]
                    for item in items
                    if isinstance(item, ast.Tuple) and len(item.elts) > position
                ]
    return None


def _default(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> ast.expr | None:
    positional = [*function.args.posonlyargs, *function.args.args]
    defaults = function.args.defaults
    offset = len(positional) - len(defaults)
    for index, argument in enumerate(positional):
        if argument.arg == name and index >= offset:
            return defaults[index - offset]
    for argument, value in zip(function.args.kwonlyargs, function.args.kw_defaults, strict=True):
        if argument.arg == name:
            return value
    return None


def system_text_calls(source: Source, known: frozenset[str]) -> list[TextCall]:
    """Every `system_text(…)` call, with the keys it may say (patterns matched to `known`).
    A call in a function that passes on its own `**context` (`alert_managers(turn, key,
    **context)`) is read once per call of that function, with that call's arguments."""
    calls = []
    for site in source.calls():
        node = site.node
        assert isinstance(node, ast.Call)
        if not (isinstance(node.func, ast.Attribute) and node.func.attr == "system_text"):
            continue
        function = site.function
        if not node.args or function is None or function.name == "system_text":
            continue
        where = f"{site.file}:{node.lineno}"
        counted = len(node.args) > 1 or any(k.arg == "count" for k in node.keywords)
        named = frozenset(
            str(k.arg) for k in node.keywords if k.arg not in (None, "count", "locale")
        )
        splat = [k.value for k in node.keywords if k.arg is None]
        variadic = function.args.kwarg
        if (
            variadic is not None
            and len(splat) == 1
            and isinstance(splat[0], ast.Name)
            and splat[0].id == variadic.arg
        ):
            for caller, bound, extra in source.callers(function, site.file):
                keys = _matched(source.strings_bound(node.args[0], site, bound), known)
                line = getattr(caller.node, "lineno", 0)
                calls.append(
                    TextCall(f"{where} via {caller.file}:{line}", keys, counted, named | extra)
                )
            continue
        context: frozenset[str] | None = named
        for value in splat:
            more = source.mapping_keys(value, site)
            context = None if more is None or context is None else context | more
        keys = _matched(source.strings(node.args[0], site), known)
        calls.append(TextCall(where, keys, counted, context))
    return calls


def _matched(found: frozenset[str] | None, known: frozenset[str]) -> frozenset[str] | None:
    """Keys, with each pattern (a part that could not be followed) replaced by the known keys
    it fits."""
    if found is None:
        return None
    return frozenset(
        key
        for value in found
        for key in (
            [k for k in known if re.fullmatch(value[3:], k)] if value.startswith("re:") else [value]
        )
    )


def flow_starts(source: Source) -> list[FlowStart]:
    """Every `start_flow(…)` call outside the function itself."""
    starts = []
    for site in source.calls():
        node = site.node
        assert isinstance(node, ast.Call)
        if _called(node) != "start_flow" or site.function is None:
            continue
        if site.function.name == "start_flow":
            continue
        names = frozenset(
            n.attr for n in ast.walk(site.function) if isinstance(n, ast.Attribute)
        ) | frozenset(n.id for n in ast.walk(site.function) if isinstance(n, ast.Name))
        given = node.args[2] if len(node.args) > 2 else None
        given = next((k.value for k in node.keywords if k.arg == "context"), given)
        context = frozenset() if given is None else source.mapping_keys(given, site)
        starts.append(FlowStart(f"{site.file}:{node.lineno}", context, names))
    return starts
