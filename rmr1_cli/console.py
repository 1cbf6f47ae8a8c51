"""The one stderr console: logs, progress bars and summary tables.

stdout is kept for results (output paths or JSON) so that ``rmr1 ... | jq`` and Makefiles work;
everything meant for a person goes to stderr through ``console``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from rmr1_cli.reports.formatting import format_value, rich_table

# Logs written to a file or a pipe get 120 columns instead of Rich's 80, so tables and log lines stay whole.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def setup_logging(verbose: bool = False) -> None:
    """Route Python logging through Rich on stderr and quieten the chattiest libraries."""
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # weight-loading bars drown the stage's own
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    for noisy in ("httpx", "urllib3", "datasets", "filelock", "accelerate", "torch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:  # transformers has its own verbosity switch; only touch it when it is already imported
        if "transformers" in sys.modules:
            sys.modules["transformers"].logging.set_verbosity_error()
    except AttributeError:
        pass


def progress(*extra_columns: Any) -> Progress:
    """A progress bar with count, elapsed and remaining time; extra columns show rates."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal and os.environ.get("RMR1_PROGRESS") != "1",
    )


def summary_table(title: str, rows: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
    """Print a two-column table: what a stage produced and where."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column(style="bold cyan")
    table.add_column()
    items = rows.items() if isinstance(rows, Mapping) else rows
    for key, value in items:
        table.add_row(str(key), format_value(value))
    console.print(table)


def grid_table(title: str, header: list[str], rows: Iterable[list[Any]]) -> None:
    """Print a table with a header row (per-subset accuracies, benchmark tables, ...)."""
    console.print(rich_table(title, header, rows))
