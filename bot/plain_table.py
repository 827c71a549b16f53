"""A rich Table for the terminal whose cells are shown as they are.

A member's name, a campaign's title, a flow's step or an error's text in an operator's table
is text: a string cell is never read as console markup (`[bold]`, `[link=…]`, which a name
could carry into an operator's terminal as a hyperlink) nor highlighted as if it were code.
Every table the command line prints is one of these.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text


class PlainTable(Table):
    def add_row(self, *cells: Any, **options: Any) -> None:
        shown = (Text(cell) if isinstance(cell, str) else cell for cell in cells)
        super().add_row(*shown, **options)
