"""The benchmark rules by name: one module per rule in this folder, one entry each in ``RULES``.

A rule (``evaluation/rule.py``) says how a benchmark's files load and how its sections and headline
are scored. To add one: write ``rules/<name>.py`` with a ``BenchmarkRule`` subclass and ``RULE =
YourRule()``, then import the module below and add it to the ``RULES`` tuple (a test checks that every
module here is registered).
"""

from __future__ import annotations

import difflib

from rmr1_cli.errors import ConfigError
from rmr1_cli.evaluation.rule import BenchmarkRule
from rmr1_cli.evaluation.rules import pairs, rewardbench, rm_bench, rmb

RULES: dict[str, BenchmarkRule] = {m.RULE.name: m.RULE for m in (pairs, rewardbench, rm_bench, rmb)}


def names() -> list[str]:
    """Every benchmark name a recipe may give."""
    return list(RULES)


def get_rule(name: str) -> BenchmarkRule:
    """The rule of a benchmark name; an unknown name is a ConfigError naming the closest one.

    >>> get_rule("rewardbench").section_of("math-prm"), get_rule("rm-bench").section_of("safety-refuse")
    ('Reasoning', 'safety')
    >>> get_rule("rmb").section_of("BoN_set/Helpfulness/Chat/Discussion")
    'BoN_set/Helpfulness'
    """
    rule = RULES.get(name)
    if rule is None:
        close = difflib.get_close_matches(str(name), RULES, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"benchmark.name: {name!r} is not a benchmark{hint} (known: {', '.join(RULES)})")
    return rule
