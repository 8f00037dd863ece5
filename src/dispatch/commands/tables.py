"""Tables of counts that fit an 80-column terminal without cutting a count.

Rich shrinks a table wider than the terminal by wrapping its wrappable columns, and then,
if that is not enough, by cutting every column, counts included ("1,23…"). So: counts
never wrap, a table has at most MAX_COUNTS count columns (wider ones are split into
several tables: five counts in the tens of millions, with their separators and padding,
take 65 columns), and the text columns (a campaign's name, a gateway) are the ones that
fold when room is short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rich import box
from rich.table import Table
from rich.text import Text

MAX_COUNTS: Final = 5
NAME_WIDTH: Final = 16  # a longer campaign name folds onto the next line


def new_table(title: str) -> Table:
    """A table with only a rule under its header: no borders to pay for in width."""
    return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def text_column(table: Table, header: str, max_width: int = NAME_WIDTH) -> None:
    table.add_column(header, max_width=max_width, overflow="fold")


def count_column(table: Table, header: str) -> None:
    table.add_column(header, justify="right", no_wrap=True)


def count(value: int) -> str:
    """A count with thousands separators: 1,234,567."""
    return f"{value:,}"


def count_tables(title: str, first: str, headers: Sequence[str],
                 rows: Sequence[tuple[Text, Sequence[int]]],
                 total: Sequence[int] | None = None) -> list[Table]:
    """`rows` (a first cell, then a count per header) as tables of at most MAX_COUNTS
    counts each, the next ones titled "(continued)" and showing only the first line of
    the first cells (a name, without what the first table said under it); `total`: a
    last row, in bold."""
    tables: list[Table] = []
    for start in range(0, len(headers), MAX_COUNTS):
        table = new_table(title if not tables else f"{title} (continued)")
        text_column(table, first)
        for header in headers[start:start + MAX_COUNTS]:
            count_column(table, header)
        for label, values in rows:
            shown = label if not start else label.split("\n")[0]
            table.add_row(shown, *(count(v) for v in values[start:start + MAX_COUNTS]))
        if total is not None:
            table.add_section()
            table.add_row(Text("total", style="bold"),
                          *(Text(count(v), style="bold")
                            for v in total[start:start + MAX_COUNTS]))
        tables.append(table)
    return tables
