"""How figures look in reports and terminal tables: percents, numbers, arrows, intervals, tables.

Every report (summary, loop, experiment) and the stderr console format through these functions, so
a share reads the same everywhere and a missing figure is always "-". A table is a header and rows
of cells; ``markdown_table`` and ``rich_table`` draw the same header and rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

MISSING = "-"


def percent(
    value: float | None,
    ci: Sequence[float] | None = None,
    *,
    se: float | None = None,
    sign: str = "%",
    missing: str = MISSING,
) -> str:
    """A share in percent with one decimal, with its 95% interval or standard error when given.

    >>> percent(0.4567), percent(None), percent(0.45, [0.4, 0.5]), percent(0.7, se=0.05)
    ('45.7%', '-', '45.0% [40.0, 50.0]', '70.0% ± 5.0')
    >>> percent(0.45, [0.4, 0.5], sign=""), percent(None, missing="n/a")
    ('45.0 [40.0, 50.0]', 'n/a')
    """
    if value is None:
        return missing
    text = f"{100 * value:.1f}{sign}"
    if ci:
        text += " " + interval(ci)
    if se is not None:
        text += f" ± {100 * se:.1f}"
    return text


def interval(ci: Sequence[float]) -> str:
    """A 95% interval of a share, in percent.

    >>> interval([0.4, 0.5])
    '[40.0, 50.0]'
    """
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def number(value: float | None, digits: int = 3, *, missing: str = MISSING) -> str:
    """A number with a fixed count of decimals.

    >>> number(0.78125), number(13.04, 1), number(None), number(None, missing="n/a")
    ('0.781', '13.0', '-', 'n/a')
    """
    return missing if value is None else f"{value:.{digits}f}"


def arrow(
    first: Any, last: Any, fmt: Callable[[Any], str] = number, *, when_missing: str | None = MISSING
) -> str:
    """``first -> last``, each side drawn by ``fmt``; ``when_missing`` (a dash) when either is None.

    With ``when_missing=None`` both sides are always drawn, a missing one by ``fmt``.

    >>> arrow(0.5, 0.78125), arrow(0.1, 0.25, percent), arrow(None, 1)
    ('0.500 -> 0.781', '10.0% -> 25.0%', '-')
    >>> arrow(None, 0.25, percent, when_missing=None)
    '- -> 25.0%'
    """
    if when_missing is not None and (first is None or last is None):
        return when_missing
    return f"{fmt(first)} -> {fmt(last)}"


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the values present (None skipped); None when there is none.

    >>> mean([1, None, 2]), mean([]), mean([None])
    (1.5, None, None)
    """
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def format_value(value: Any) -> str:
    """A value as a table cell or log field: floats to 4 significant digits, None as "-".

    >>> format_value(0.123456), format_value(3), format_value(None)
    ('0.1235', '3', '-')
    """
    if isinstance(value, float):
        return f"{value:.4g}"
    return MISSING if value is None else str(value)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A markdown table's lines; cells go through ``format_value`` and a "|" inside one is escaped.

    >>> markdown_table(["a", "b"], [[1, None], ["x|y", 0.5]])
    ['| a | b |', '|---|---|', '| 1 | - |', '| x\\\\|y | 0.5 |']
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(format_value(v).replace("|", "\\|") for v in row) + " |")
    return lines


def rich_table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """The same header and rows as a Rich table: first column left, the figures right-aligned."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(format_value(v) for v in row))
    return table
