"""Type-checking one template: every variable and attribute it reads must exist where the
text is rendered.

A `Scope` says what exists there: the member's fields, the community's links, the answers of
the steps that can come before, the context the code passes, and whether there is a count.
Reading something that is not there is an error (the member would get "something went
wrong"); reading something that is there only on some paths is a warning, unless the template
guards it with `| default(…)` or `{% if … is defined %}`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from jinja2 import TemplateSyntaxError, meta, nodes

from flows.problems import Severity, did_you_mean
from flows.text import TEMPLATE_VARIABLES
from flows.text import _environment as rendering  # the filters and tests messages have

# Present on every path to the text / only on some.
Presence = Literal["always", "maybe"]
ALWAYS: Presence = "always"
MAYBE: Presence = "maybe"

COMMUNITY_ATTRIBUTES = ("name", "links")
GUARD_FILTERS = frozenset({"default", "d"})
GUARD_TESTS = frozenset({"defined", "undefined"})


@dataclass(frozen=True)
class Scope:
    """What a template can read where it is rendered."""

    where: str  # "flow titles", "system text 'kudos_thanks'", "step 'welcome'"…
    # Set when the text is rendered with no variables at all; says why.
    bare: str | None = None
    member: Mapping[str, Presence] = field(default_factory=dict)
    member_known: frozenset[str] = frozenset()  # every field a member can have anywhere
    links: frozenset[str] = frozenset()
    # None: the text is not a flow step's, and there are no answers.
    answers: Mapping[str, Presence] | None = None
    asks: frozenset[str] = frozenset()  # every ask step of the flow
    # None: unknown (a flow nothing starts: reported elsewhere), and not checked.
    context: Mapping[str, Presence] | None = field(default_factory=dict)
    context_from: str = ""  # what passes the context (a flow's starters), for hints
    # None: the text has a count; else why it has none and what to do.
    no_count: str | None = "this text is said without a number"


@dataclass(frozen=True)
class TemplateProblem:
    line: int  # within the template, 1-based
    message: str
    hint: str | None = None
    severity: Severity = "error"


@dataclass(frozen=True)
class _Read:
    """One chain read from a root variable: `member.name`, `community.links.x`."""

    root: str
    attributes: tuple[str, ...]
    line: int
    guarded: bool  # `| default(…)` or `is defined` right on it, or inside such an `if`

    def shown(self, depth: int) -> str:
        return "{{ " + ".".join((self.root, *self.attributes[:depth])) + " }}"


def check_template(source: str, scope: Scope) -> list[TemplateProblem]:
    if "{" not in source:  # plain text: no expression, statement or comment to check
        return []
    analysis = _analyse(source)
    if isinstance(analysis, tuple):
        return list(analysis)  # the template cannot be compiled: the rest would be noise
    problems = list(analysis.unknown)
    seen: set[str] = set()
    for read in analysis.reads:
        found = _check(read, scope)
        if found is not None and found.message not in seen:
            seen.add(found.message)
            problems.append(found)
    return problems


@dataclass(frozen=True)
class _Analysis:
    """What a template's source says whatever its scope: unknown root names, and every chain
    it reads from the known ones."""

    unknown: tuple[TemplateProblem, ...]
    reads: tuple[_Read, ...]


@functools.lru_cache(maxsize=8192)
def _analyse(source: str) -> _Analysis | tuple[TemplateProblem, ...]:
    """Parse and compile a template once: most of checking content (about 0.7 ms a template,
    a thousand templates in the sample content). The same text in another load of the tree
    (a test's variant of it, content read again after a change) is not parsed again. A tuple:
    the problems that keep it from compiling."""
    try:
        tree = rendering.parse(source)
        problems = _filters_and_tests(tree)
        if problems:
            return tuple(problems)
        undeclared = meta.find_undeclared_variables(tree)  # compiles it
    except TemplateSyntaxError as exc:
        return (
            TemplateProblem(
                exc.lineno or 1,
                f"template error: {exc.message}",
                "templates use {{ name }}; check the braces",
            ),
        )
    unknown = []
    for name in sorted(set(undeclared) - TEMPLATE_VARIABLES):
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), 1)
        unknown.append(
            TemplateProblem(
                line,
                f"template uses unknown variable '{name}'",
                did_you_mean(name, TEMPLATE_VARIABLES)
                or f"use one of: {', '.join(sorted(TEMPLATE_VARIABLES))}",
            )
        )
    # A template that assigns a root name itself ({% set member = … %}) reads its own value.
    shadowed = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")} | {
        n.name for n in tree.find_all(nodes.Macro)
    }
    return _Analysis(tuple(unknown), tuple(_reads(tree, TEMPLATE_VARIABLES - shadowed)))


def _filters_and_tests(tree: nodes.Template) -> list[TemplateProblem]:
    problems = []
    for kind, known, found in (
        ("filter", rendering.filters, tree.find_all(nodes.Filter)),
        ("test", rendering.tests, tree.find_all(nodes.Test)),
    ):
        for node in found:
            if node.name not in known:
                problems.append(
                    TemplateProblem(
                        node.lineno,
                        f"template error: no {kind} named '{node.name}'",
                        did_you_mean(node.name, known)
                        or "see the filters and tests in Jinja's template documentation",
                    )
                )
    return problems


# Reading the template ---------------------------------------------------------------------------
def _chain(node: nodes.Node) -> tuple[str, list[str], list[nodes.Node]] | None:
    """`member.name` -> ('member', ['name'], []); the attributes are cut before the first
    computed index (`answers[key]`), whose expressions come back to be read on their own."""
    attributes: list[str] = []
    computed: list[nodes.Node] = []
    while True:
        if isinstance(node, nodes.Getattr):
            attributes.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str | int):
                attributes.append(str(node.arg.value))
            else:
                computed.append(node.arg)
                attributes.clear()  # only what comes before the computed index is known
            node = node.node
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            return node.name, attributes[::-1], computed
        else:
            return None


def _defined_in(test: nodes.Node) -> set[str]:
    """Chains an `if` test proves defined: `x is defined`, also inside `and`."""
    if isinstance(test, nodes.And):
        return _defined_in(test.left) | _defined_in(test.right)
    if isinstance(test, nodes.Test) and test.name == "defined":
        found = _chain(test.node)
        if found is not None and not found[2]:
            return {".".join((found[0], *found[1]))}
    return set()


def _reads(tree: nodes.Template, roots: frozenset[str]) -> Iterator[_Read]:
    def visit(node: nodes.Node, guards: frozenset[str], direct: bool = False) -> Iterator[_Read]:
        if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
            found = _chain(node)
            if found is not None:
                root, attributes, computed = found
                if root in roots:
                    dotted = ".".join((root, *attributes))
                    guarded = (direct and not computed) or dotted in guards
                    yield _Read(root, tuple(attributes), node.lineno, guarded)
                for expression in computed:
                    yield from visit(expression, guards)
                return
        if isinstance(node, nodes.If):
            yield from visit(node.test, guards)
            inner = guards | _defined_in(node.test)
            for child in node.body:
                yield from visit(child, inner)
            for child in (*node.elif_, *node.else_):
                yield from visit(child, guards)
            return
        if isinstance(node, nodes.CondExpr):
            yield from visit(node.test, guards)
            yield from visit(node.expr1, guards | _defined_in(node.test))
            if node.expr2 is not None:
                yield from visit(node.expr2, guards)
            return
        if isinstance(node, nodes.Filter | nodes.Test) and node.node is not None:
            guards_it = node.name in (
                GUARD_FILTERS if isinstance(node, nodes.Filter) else GUARD_TESTS
            )
            yield from visit(node.node, guards, guards_it)
            for child in node.iter_child_nodes(exclude=("node",)):
                yield from visit(child, guards)
            return
        for child in node.iter_child_nodes():
            yield from visit(child, guards)

    yield from visit(tree, frozenset())


# Judging one read -----------------------------------------------------------------------------
def _check(read: _Read, scope: Scope) -> TemplateProblem | None:
    if scope.bare is not None:
        return TemplateProblem(read.line, f"{read.shown(len(read.attributes))}: {scope.bare}")
    if read.root == "count":
        if scope.no_count is None:
            return None
        return TemplateProblem(read.line, f"{{{{ count }}}}: {scope.no_count}")
    if not read.attributes or hasattr(dict, read.attributes[0]):
        return None  # the whole mapping, or one of its methods (items, get…)
    first = read.attributes[0]
    match read.root:
        case "member":
            return _member(read, scope, first)
        case "community":
            return _community(read, scope, first)
        case "answers":
            return _answers(read, scope, first)
        case "context":
            return _context(read, scope, first)
    return None


def _member(read: _Read, scope: Scope, name: str) -> TemplateProblem | None:
    presence = scope.member.get(name)
    if presence is None:
        if name in scope.member_known:
            fields = ", ".join(f"member.{f}" for f in sorted(scope.member))
            return TemplateProblem(
                read.line,
                f"{read.shown(1)}: only {fields} can be used in {scope.where}",
            )
        return TemplateProblem(
            read.line,
            f"{read.shown(1)}: member has no field '{name}'",
            did_you_mean(name, scope.member)
            or f"members have {', '.join(scope.member)}; declare others under profile_fields "
            "in community.yaml",
        )
    if presence == MAYBE and not read.guarded:
        return TemplateProblem(
            read.line,
            f"{read.shown(1)}: members have no '{name}' until a flow sets it, and then this "
            "text fails for them",
            f"write {{{{ member.{name} | default('') }}}}, or test "
            f"{{% if member.{name} is defined %}}",
            "warning",
        )
    return None


def _community(read: _Read, scope: Scope, name: str) -> TemplateProblem | None:
    if name not in COMMUNITY_ATTRIBUTES:
        return TemplateProblem(
            read.line,
            f"{read.shown(1)}: community has no '{name}'",
            did_you_mean(name, COMMUNITY_ATTRIBUTES) or "community offers name and links",
        )
    if name != "links" or len(read.attributes) < 2 or hasattr(dict, read.attributes[1]):
        return None
    link = read.attributes[1]
    if link in scope.links:
        return None
    return TemplateProblem(
        read.line,
        f"{read.shown(2)}: community.yaml has no link '{link}'",
        did_you_mean(link, scope.links)
        or f"add it under links in community.yaml (links: {', '.join(sorted(scope.links))})",
    )


def _answers(read: _Read, scope: Scope, step: str) -> TemplateProblem | None:
    if scope.answers is None:
        return TemplateProblem(
            read.line,
            f"{read.shown(1)}: there are no answers in {scope.where}",
            "only the texts of a flow's steps can use answers of its ask steps",
        )
    if step not in scope.asks:
        return TemplateProblem(
            read.line,
            f"{read.shown(1)}: {scope.where} has no ask step '{step}'",
            did_you_mean(step, scope.asks),
        )
    presence = scope.answers.get(step)
    guarded = read.guarded and len(read.attributes) == 1
    if presence is None and not guarded:
        return TemplateProblem(
            read.line,
            f"{read.shown(1)}: ask step '{step}' never comes before this step, so there is no "
            "answer yet",
            f"use it in a step after '{step}', or write {{{{ answers.{step} | default('') }}}}",
        )
    if presence == MAYBE and not guarded:
        return TemplateProblem(
            read.line,
            f"{read.shown(1)}: some paths reach this step without asking '{step}', and then "
            "this text fails",
            f"write {{{{ answers.{step} | default('') }}}}, or test "
            f"{{% if answers.{step} is defined %}}",
            "warning",
        )
    return None


def _context(read: _Read, scope: Scope, key: str) -> TemplateProblem | None:
    if scope.context is None:
        return None
    presence = scope.context.get(key)
    if presence is None:
        given = ", ".join(sorted(scope.context))
        return TemplateProblem(
            read.line,
            f"{read.shown(1)}: no context '{key}' is passed to {scope.where}",
            did_you_mean(key, scope.context)
            or (f"it gets: {given}" if given else "it gets no context")
            + (f" ({scope.context_from})" if scope.context_from else ""),
        )
    if presence == MAYBE and not (read.guarded and len(read.attributes) == 1):
        return TemplateProblem(
            read.line,
            f"{read.shown(1)}: '{key}' is not always passed to {scope.where} "
            f"({scope.context_from or 'only by some of the calls in the code'}), and then this "
            "text fails",
            f"write {{{{ context.{key} | default('') }}}}",
            "warning",
        )
    return None
