"""``python -m rmr1_cli`` (what ``accelerate launch -m rmr1_cli ...`` runs)."""

from rmr1_cli.cli import app

app()
