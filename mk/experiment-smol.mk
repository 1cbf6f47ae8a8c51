# make experiment-smol: the design of `make experiment` on SmolLM2-135M-Instruct, with the judge fixes
# and their ablation (see recipes/experiment-smol/README.md). Included from the Makefile; every step is
# a file target, so an interrupted run continues where it stopped. Output in runs/experiment-smol.

SEXP  := recipes/experiment-smol
SRUNS := runs/experiment-smol
SSYN  := $(SRUNS)/synth

$(SSYN)/metrics.json: $(SEXP)/synth.yaml | setup
	$(RMR1) synth $(SEXP)/synth.yaml
$(SRUNS)/synth-plain/metrics.json: $(SEXP)/synth-plain.yaml | setup
	$(RMR1) synth $(SEXP)/synth-plain.yaml

# (0) the base: SmolLM2 taught the domain's answer format; both RMs start from it, and it is the policy
$(SRUNS)/base/metrics.json: models/smol/config.json $(SSYN)/metrics.json $(SEXP)/base.yaml
	$(RMR1) sft $(SEXP)/base.yaml

# (1) the reasoning RM (SFT on gold traces, then RLVR on concise pairs), its ablation without the
# concise-pair fixes, and the scalar RM, all from the base
$(SRUNS)/rm-sft/metrics.json: $(SRUNS)/base/metrics.json $(SEXP)/rm-sft.yaml
	$(RMR1) sft $(SEXP)/rm-sft.yaml
$(SRUNS)/rm-sft-plain/metrics.json: $(SRUNS)/base/metrics.json $(SRUNS)/synth-plain/metrics.json $(SEXP)/rm-sft-plain.yaml
	$(RMR1) sft $(SEXP)/rm-sft-plain.yaml
$(SRUNS)/rm-sft-192/metrics.json: $(SRUNS)/base/metrics.json $(SEXP)/rm-sft-192.yaml
	$(RMR1) sft $(SEXP)/rm-sft-192.yaml
$(SRUNS)/rm-sft-mix/metrics.json: $(SRUNS)/base/metrics.json $(SEXP)/rm-sft-mix.yaml
	$(RMR1) sft $(SEXP)/rm-sft-mix.yaml
$(SRUNS)/rm-rl/metrics.json: $(SRUNS)/rm-sft/metrics.json $(SEXP)/rm-rl.yaml
	$(RMR1) train-rm $(SEXP)/rm-rl.yaml
$(SRUNS)/rm-scalar/metrics.json: $(SRUNS)/base/metrics.json $(SEXP)/rm-scalar.yaml
	$(RMR1) train-rm $(SEXP)/rm-scalar.yaml

# each RM on the test pairs: test (the longer answer always wrong), test-concise (two concise answers),
# test-iid (the train mix). Folder names: <rm>-<set>; the ablation rows are rm-sft (with and without
# judge.solve_first) and rm-sft-plain
SEVAL := $(SRUNS)/eval
sset = $(SSYN)/pairs_$(subst -,_,$(1)).jsonl
$(SEVAL)/reasoning-%/metrics.json: $(SRUNS)/rm-rl/metrics.json $(SEXP)/eval-reasoning.yaml
	$(RMR1) eval $(SEXP)/eval-reasoning.yaml output_dir=$(@D) benchmark.path=$(call sset,$*)
$(SEVAL)/sft-%/metrics.json: $(SRUNS)/rm-sft/metrics.json $(SEXP)/eval-reasoning.yaml
	$(RMR1) eval $(SEXP)/eval-reasoning.yaml output_dir=$(@D) judge.model.name_or_path=$(SRUNS)/rm-sft/model \
		benchmark.path=$(call sset,$*)
$(SEVAL)/sft-solve-%/metrics.json: $(SRUNS)/rm-sft/metrics.json $(SEXP)/eval-reasoning.yaml
	$(RMR1) eval $(SEXP)/eval-reasoning.yaml output_dir=$(@D) judge.model.name_or_path=$(SRUNS)/rm-sft/model \
		judge.solve_first=true benchmark.path=$(call sset,$*)
$(SEVAL)/plain-%/metrics.json: $(SRUNS)/rm-sft-plain/metrics.json $(SEXP)/eval-reasoning.yaml
	$(RMR1) eval $(SEXP)/eval-reasoning.yaml output_dir=$(@D) judge.model.name_or_path=$(SRUNS)/rm-sft-plain/model \
		benchmark.path=$(call sset,$*)
$(SEVAL)/sft192-%/metrics.json: $(SRUNS)/rm-sft-192/metrics.json $(SEXP)/eval-reasoning.yaml
	$(RMR1) eval $(SEXP)/eval-reasoning.yaml output_dir=$(@D) judge.model.name_or_path=$(SRUNS)/rm-sft-192/model \
		benchmark.path=$(call sset,$*)
$(SEVAL)/sftmix-solve-%/metrics.json: $(SRUNS)/rm-sft-mix/metrics.json $(SEXP)/eval-reasoning.yaml
	$(RMR1) eval $(SEXP)/eval-reasoning.yaml output_dir=$(@D) judge.model.name_or_path=$(SRUNS)/rm-sft-mix/model \
		judge.solve_first=true benchmark.path=$(call sset,$*)
$(SEVAL)/scalar-%/metrics.json: $(SRUNS)/rm-scalar/metrics.json $(SEXP)/eval-scalar.yaml
	$(RMR1) eval $(SEXP)/eval-scalar.yaml output_dir=$(@D) benchmark.path=$(call sset,$*)
SEVALS := $(foreach rm,sft sft-solve reasoning scalar,$(foreach set,test test-concise,$(SEVAL)/$(rm)-$(set)/metrics.json))
# run after the policies: the ablation judges without the concise-pair fixes and with twice the traces. The iid test set
# ($(SEVAL)/reasoning-test-iid/metrics.json, $(SEVAL)/scalar-test-iid/metrics.json) is not in the
# default run (time); make either file by name and the report adds its column
SEVALS_LATE := $(SEVAL)/plain-test/metrics.json $(SEVAL)/plain-test-concise/metrics.json \
	$(SEVAL)/sft192-test/metrics.json $(SEVAL)/sft192-test-concise/metrics.json \
	$(SEVAL)/sftmix-solve-test/metrics.json $(SEVAL)/sftmix-solve-test-concise/metrics.json

# (2) policy GRPO with each RM as the reward, then both policies against the base on held-out prompts
$(SRUNS)/grpo-reasoning/metrics.json: $(SRUNS)/base/metrics.json $(SRUNS)/rm-rl/metrics.json $(SEXP)/grpo-reasoning.yaml
	$(RMR1) grpo $(SEXP)/grpo-reasoning.yaml
# the same GRPO with the SFT-only judge as the reward (the ablation's best judge: RLVR left the judge
# following position, every comparison a tie)
$(SRUNS)/grpo-reasoning-sft/metrics.json: $(SRUNS)/base/metrics.json $(SRUNS)/rm-sft/metrics.json $(SEXP)/grpo-reasoning.yaml
	$(RMR1) grpo $(SEXP)/grpo-reasoning.yaml output_dir=$(@D) reward.judge.model.name_or_path=$(SRUNS)/rm-sft/model
$(SRUNS)/grpo-scalar/metrics.json: $(SRUNS)/base/metrics.json $(SRUNS)/rm-scalar/metrics.json $(SEXP)/grpo-scalar.yaml
	$(RMR1) grpo $(SEXP)/grpo-scalar.yaml
# the win rate is judged by the column-solution RLVR judge (policy-eval.yaml), so it must exist first
$(SRUNS)/policy-eval/%/metrics.json: $(SRUNS)/grpo-%/metrics.json $(SRUNS)/rm-rl-columns/metrics.json $(SEXP)/policy-eval.yaml
	$(RMR1) policy-eval $(SEXP)/policy-eval.yaml output_dir=$(@D) policy.name_or_path=$(SRUNS)/grpo-$*/model

# (3) the verdict read from the marks (judge.verdict_rule=marks: the one answer the trace marks "matches",
# not its final [[A]]/[[B]]): the 192-trace judge as it is, then after RLVR with that verdict as the
# reward (rm-rl-marks.yaml); that judge as the GRPO reward; and the verifiable reward itself as the
# GRPO reward, the ceiling of what 16 GRPO steps can give with a perfect judge
# a judge (model folder $(1)) evaluated, or used as the GRPO reward, with the verdict read from its marks
marks_eval = $(RMR1) eval $(SEXP)/eval-reasoning.yaml output_dir=$(@D) judge.model.name_or_path=$(1) \
	judge.verdict_rule=marks benchmark.path=$(call sset,$*)
marks_grpo = $(RMR1) grpo $(SEXP)/grpo-reasoning.yaml output_dir=$(@D) reward.judge.model.name_or_path=$(1) \
	reward.judge.verdict_rule=marks
$(SRUNS)/rm-rl-marks/metrics.json: $(SRUNS)/rm-sft-192/metrics.json $(SEXP)/rm-rl-marks.yaml
	$(RMR1) train-rm $(SEXP)/rm-rl-marks.yaml
$(SEVAL)/sft192-marks-%/metrics.json: $(SRUNS)/rm-sft-192/metrics.json $(SEXP)/eval-reasoning.yaml
	$(call marks_eval,$(SRUNS)/rm-sft-192/model)
$(SEVAL)/rlmarks-%/metrics.json: $(SRUNS)/rm-rl-marks/metrics.json $(SEXP)/eval-reasoning.yaml
	$(call marks_eval,$(SRUNS)/rm-rl-marks/model)
$(SRUNS)/grpo-reasoning-marks/metrics.json: $(SRUNS)/base/metrics.json $(SRUNS)/rm-rl-marks/metrics.json $(SEXP)/grpo-reasoning.yaml
	$(call marks_grpo,$(SRUNS)/rm-rl-marks/model)
$(SRUNS)/grpo-verifiable/metrics.json: $(SRUNS)/base/metrics.json $(SEXP)/grpo-reasoning.yaml
	$(RMR1) grpo $(SEXP)/grpo-reasoning.yaml output_dir=$(@D) reward.judge_weight=0 reward.verifiable_weight=1

# (4) the column-solution judge: gold traces whose own solution is worked column by column
# (synth-columns.yaml), SFT as rm-sft-192, RLVR with the verdict from the marks, evaluated with the
# verdict from the marks, and the GRPO reward of the policy
$(SRUNS)/synth-columns/metrics.json: $(SEXP)/synth-columns.yaml | setup
	$(RMR1) synth $(SEXP)/synth-columns.yaml
$(SRUNS)/rm-sft-columns/metrics.json: $(SRUNS)/base/metrics.json $(SRUNS)/synth-columns/metrics.json $(SEXP)/rm-sft-columns.yaml
	$(RMR1) sft $(SEXP)/rm-sft-columns.yaml
$(SRUNS)/rm-rl-columns/metrics.json: $(SRUNS)/rm-sft-columns/metrics.json $(SEXP)/rm-rl-marks.yaml
	$(RMR1) train-rm $(SEXP)/rm-rl-marks.yaml output_dir=$(@D) model.name_or_path=$(SRUNS)/rm-sft-columns/model
$(SEVAL)/columns-%/metrics.json: $(SRUNS)/rm-sft-columns/metrics.json $(SEXP)/eval-reasoning.yaml
	$(call marks_eval,$(SRUNS)/rm-sft-columns/model)
$(SEVAL)/rlcolumns-%/metrics.json: $(SRUNS)/rm-rl-columns/metrics.json $(SEXP)/eval-reasoning.yaml
	$(call marks_eval,$(SRUNS)/rm-rl-columns/model)
$(SRUNS)/grpo-reasoning-columns/metrics.json: $(SRUNS)/base/metrics.json $(SRUNS)/rm-rl-columns/metrics.json $(SEXP)/grpo-reasoning.yaml
	$(call marks_grpo,$(SRUNS)/rm-rl-columns/model)

# (5) one turn of the loop (mk/loop.mk) with the smol loop recipes (recipes/experiment-smol/loop): the
# base policy's wrong answers -> refined pairs -> gold traces -> the column-solution judge's SFT and RLVR
# on them -> its eval on the concise pairs -> GRPO of the base with the round's judge. The same GRPO with
# the round-0 judge is grpo-reasoning-columns, so the round's policy shows what the loop added to the judge
SLOOP := $(SRUNS)/loop
SLOOP_VARS := ROUNDS=1 LOOP_RECIPES=$(SEXP)/loop LOOP_RUNS=$(SLOOP) LOOP_SYNTH=$(SSYN) \
	LOOP_JUDGE0=$(SRUNS)/rm-rl-columns LOOP_POLICY0=$(SRUNS)/base \
	LOOP_TEST=$(SSYN)/pairs_test_concise.jsonl
$(SLOOP)/loop.json: $(SRUNS)/base/metrics.json $(SRUNS)/rm-rl-columns/metrics.json $(wildcard $(SEXP)/loop/*.yaml)
	$(MAKE) loop $(SLOOP_VARS)

SMARKS := $(foreach rm,sft192-marks rlmarks columns rlcolumns,$(foreach set,test test-concise,$(SEVAL)/$(rm)-$(set)/metrics.json)) \
	$(SRUNS)/policy-eval/reasoning-columns/metrics.json $(SRUNS)/policy-eval/reasoning-marks/metrics.json \
	$(SRUNS)/policy-eval/verifiable/metrics.json $(SLOOP)/loop.json

# the tiny `make experiment` beside it (not built from here: the report says so when runs/experiment is absent)
SBESIDE := --beside runs/experiment

# one torch thread per stage: on 2 shared cores, two threads fighting another process for one core
# generated ~10x slower; `make -j2 experiment-smol` runs two stages side by side instead
experiment-smol: export OMP_NUM_THREADS := 1

.PHONY: experiment-smol
experiment-smol: $(SEVALS) $(SRUNS)/policy-eval/reasoning/metrics.json $(SRUNS)/policy-eval/scalar/metrics.json \
		$(SRUNS)/policy-eval/reasoning-sft/metrics.json \
		$(SEVALS_LATE) $(SMARKS)
	$(RMR1) experiment-report $(SRUNS) $(SBESIDE)
