"""`onramp i18n`: translators work in PO files (export, import) and see coverage (status)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from bot.cli.state import state
from bot.features import build_registry
from bot.plain_table import PlainTable
from flows.content import ContentTree, load_tree
from flows.coverage import coverage, overall, percent
from flows.locale_codes import normalise_locale
from flows.po import export as export_po
from flows.po_import import import_po

app = typer.Typer(no_args_is_help=True)

ContentOption = Annotated[
    Path | None,
    typer.Option("--content", help="Content folder (default: [content] path from settings)."),
]


def _out() -> Console:
    out = Console(highlight=False, soft_wrap=True)
    if not out.is_terminal:
        out.width = 200  # a table read from a file or a pipe: never cut a file name
    return out


def _tree(content: Path | None) -> tuple[ContentTree, float]:
    settings = state.settings()
    root = content or settings.content.path
    tree, problems = load_tree(root, actions=build_registry().actions)
    if tree is None:
        out = _out()
        for problem in sorted(p for p in problems if p.severity == "error"):
            out.print(str(problem), style="red", markup=False)
        out.print(f"{root} has errors: fix them first (onramp check)", markup=False)
        raise typer.Exit(1)
    return tree, settings.content.min_coverage


def _locale(written: str) -> str:
    try:
        return normalise_locale(written)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command(help="Write one PO file per content file for translators (default: i18n/LOCALE).")
def export(
    locale: Annotated[str, typer.Option("--locale", "-l", help="The language: pt, pt-BR…")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for the PO files (default: i18n/LOCALE beside the content)."
        ),
    ] = None,
    content: ContentOption = None,
) -> None:
    tree, _ = _tree(content)
    wanted = _locale(locale)
    if wanted == tree.community.default_locale:
        raise typer.BadParameter(f"'{wanted}' is the default locale: the PO files' source")
    folder = out or tree.root.parent / "i18n" / wanted
    written = export_po(tree, wanted, folder)
    _out().print(f"{len(written)} PO file(s) for '{wanted}' in {folder}", markup=False)


@app.command("import", help="Write the translations of PO files into the content.")
def import_(
    files: Annotated[list[Path], typer.Argument(help="PO files, from onramp i18n export.")],
    content: ContentOption = None,
) -> None:
    tree, min_coverage = _tree(content)
    result = import_po(tree, files, min_coverage, build_registry().actions)
    out = _out()
    for problem in result.problems:
        out.print(problem, style="red", markup=False)
    if result.problems:
        out.print(f"{len(result.problems)} problem(s): nothing was written", markup=False)
        raise typer.Exit(1)
    if result.content_errors:
        for error in sorted(result.content_errors):
            out.print(str(error), style="red", markup=False)
        out.print("the content check failed after the import: every file was put back")
        raise typer.Exit(1)
    for file, count in sorted(result.written.items()):
        out.print(f"{file}: {count} text(s) written", markup=False)
    skipped = {
        "fuzzy": result.fuzzy,
        "untranslated": result.untranslated,
        "whose English changed since the export": result.outdated,
        "with paragraphs left untranslated": result.incomplete,
    }
    for why, count in skipped.items():
        if count:
            out.print(f"skipped {count} entr{'y' if count == 1 else 'ies'} {why}", markup=False)


@app.command(help="How much of the content each locale translates, per file.")
def status(
    locale: Annotated[
        list[str] | None, typer.Option("--locale", "-l", help="Only these locales.")
    ] = None,
    output: Annotated[
        Literal["table", "json"], typer.Option("--format", help="table or json.")
    ] = "table",
    content: ContentOption = None,
) -> None:
    tree, _ = _tree(content)
    wanted = [_locale(x) for x in locale] if locale else None
    found = coverage(tree, wanted)
    totals = overall(found)
    if output == "json":
        rows = {
            code: {
                "covered": covered,
                "texts": total,
                "percent": percent(covered, total),
                "files": {
                    f.file: {"covered": f.covered, "texts": f.total, "percent": f.percent}
                    for f in found
                    if f.locale == code
                },
            }
            for code, (covered, total) in sorted(totals.items())
        }
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = PlainTable(title=f"Translated texts ({tree.community.default_locale} is the source)")
    table.add_column("file")
    for code in sorted(totals):
        table.add_column(code, justify="right")
    files = sorted({f.file for f in found})
    cells = {(f.file, f.locale): f for f in found}
    for file in files:
        table.add_row(
            file,
            *(
                f"{cells[(file, c)].covered}/{cells[(file, c)].total} {cells[(file, c)].percent}%"
                for c in sorted(totals)
            ),
        )
    table.add_row(
        "all content",
        *(f"{totals[c][0]}/{totals[c][1]} {percent(*totals[c])}%" for c in sorted(totals)),
        style="bold",
    )
    _out().print(table)
