"""Evaluating reward models on benchmarks, each scored by its own released rules.

A benchmark is a rule (``rule.py``: how its files load, its sections and its headline) registered by
name in ``rules/``, one module per benchmark (pairs, rewardbench, rm_bench, rmb); adding a benchmark
means one new ``rules/<name>.py`` and its entry in ``rules/__init__.py``. Around the rules:
``comparisons.py`` (the records a loaded benchmark holds), ``layouts.py`` (the generic file reader the
rules share), ``loading.py`` (a recipe's benchmark, subsets and limit), ``outcomes.py`` (one comparison's pick and
score: ties, invalid verdicts, both-orders rule), ``scoring.py`` (result rows to
scores through the rule), ``stats.py`` (bootstrap intervals, McNemar), ``metrics.py`` (metrics.json:
scores, null baselines, diagnostics), ``report.py`` (terminal tables, report.md, plots) and
``compare.py`` (two runs, paired). ``scalar.py`` scores answers with a sequence-classifier RM and
``policy.py`` compares a trained policy with its initial one.
"""
