"""`onramp check`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli.state import state
from bot.features import build_registry
from flows.content import load_tree


def check(
    path: Annotated[
        Path | None, typer.Argument(help="Content folder (default: [content] path from settings).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False,
    min_coverage: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=100,
            help="Least share (%) of the texts each locale must translate (default: "
            "[content] min_coverage from settings; 0 with a content folder given).",
        ),
    ] = None,
) -> None:
    if path is None:  # the bot's own content: its settings say how much must be translated
        settings = state.settings().content
        root, wanted = settings.path, settings.min_coverage
    else:  # a folder: reads no settings, so it checks anywhere (a translator's laptop, CI)
        root, wanted = path, 0
    tree, problems = load_tree(
        root, wanted if min_coverage is None else min_coverage, build_registry().actions
    )
    out = Console(highlight=False, soft_wrap=True)  # one problem per line, never wrapped
    for problem in sorted(problems):
        colour = "red" if problem.severity == "error" else "yellow"
        out.print(str(problem), style=colour, markup=False)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors or (strict and warnings):
        out.print(f"{len(errors)} error(s), {len(warnings)} warning(s) in {root}")
        raise typer.Exit(1)
    assert tree is not None
    out.print(
        f"{root}: {len(tree.flows)} flow(s), {len(tree.campaigns)} campaign(s), "
        f"{len(tree.community.locales)} locale(s), "
        f"{len(warnings)} warning(s). All good."
    )
