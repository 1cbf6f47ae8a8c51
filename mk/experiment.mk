# make experiment: RM-R1's claim in miniature on the CPU (see recipes/experiment/README.md).
# Included from the Makefile; every step is a file target, so an interrupted run continues where it stopped.

EXP   := recipes/experiment
XRUNS := runs/experiment
XSYN  := $(XRUNS)/synth
XCORPUS := $(foreach f,pairs_train pairs_test traces_train prompts_train policy_sft_train,--corpus $(XSYN)/$(f).jsonl) \
	--corpus data/samples/pairs.jsonl

$(XSYN)/metrics.json: $(EXP)/synth.yaml | setup
	$(RMR1) synth $(EXP)/synth.yaml

# two random tiny models whose tokenizer saw the domain: the RMs' base (hidden 256) and the policy (128)
$(XRUNS)/base-random/config.json: $(XSYN)/metrics.json
	$(RMR1) tiny-model $(@D) --hidden-size 256 --layers 4 --seed 0 $(XCORPUS)
$(XRUNS)/policy-random/config.json: $(XSYN)/metrics.json
	$(RMR1) tiny-model $(@D) --hidden-size 128 --layers 4 --seed 1 $(XCORPUS)

$(XRUNS)/base/metrics.json: $(XRUNS)/base-random/config.json $(EXP)/base.yaml
	$(RMR1) sft $(EXP)/base.yaml
$(XRUNS)/policy/metrics.json: $(XRUNS)/policy-random/config.json $(EXP)/policy.yaml
	$(RMR1) sft $(EXP)/policy.yaml

# (1) two reward models from the same base on the same length-biased pairs
$(XRUNS)/rm-sft/metrics.json: $(XRUNS)/base/metrics.json $(EXP)/rm-sft.yaml
	$(RMR1) sft $(EXP)/rm-sft.yaml
$(XRUNS)/rm-scalar/metrics.json: $(XRUNS)/base/metrics.json $(EXP)/rm-scalar.yaml
	$(RMR1) train-rm $(EXP)/rm-scalar.yaml
$(XRUNS)/rm-rl/metrics.json: $(XRUNS)/rm-sft/metrics.json $(EXP)/rm-rl.yaml
	$(RMR1) train-rm $(EXP)/rm-rl.yaml

# each RM on the test pairs whose longer answer is wrong (test) and on pairs with the train bias (iid)
XEVAL := $(XRUNS)/eval
$(XEVAL)/reasoning-%/metrics.json: $(XRUNS)/rm-rl/metrics.json $(EXP)/eval-reasoning.yaml
	$(RMR1) eval $(EXP)/eval-reasoning.yaml output_dir=$(@D) benchmark.path=$(XSYN)/pairs_$(subst -,_,$*).jsonl
$(XEVAL)/reasoning-sft-%/metrics.json: $(XRUNS)/rm-sft/metrics.json $(EXP)/eval-reasoning.yaml
	$(RMR1) eval $(EXP)/eval-reasoning.yaml output_dir=$(@D) judge.model.name_or_path=$(XRUNS)/rm-sft/model \
		benchmark.path=$(XSYN)/pairs_$(subst -,_,$*).jsonl
$(XEVAL)/scalar-%/metrics.json: $(XRUNS)/rm-scalar/metrics.json $(EXP)/eval-scalar.yaml
	$(RMR1) eval $(EXP)/eval-scalar.yaml output_dir=$(@D) scalar_model.name_or_path=$(XRUNS)/rm-scalar/model \
		benchmark.path=$(XSYN)/pairs_$(subst -,_,$*).jsonl
XEVALS := $(foreach rm,reasoning reasoning-sft scalar,$(XEVAL)/$(rm)-test/metrics.json) \
	$(XEVAL)/reasoning-test-iid/metrics.json $(XEVAL)/scalar-test-iid/metrics.json

# (2) policy GRPO with each RM as the reward, then both policies against the starting one
$(XRUNS)/grpo-reasoning/metrics.json: $(XRUNS)/policy/metrics.json $(XRUNS)/rm-rl/metrics.json $(EXP)/grpo-reasoning.yaml
	$(RMR1) grpo $(EXP)/grpo-reasoning.yaml
$(XRUNS)/grpo-scalar/metrics.json: $(XRUNS)/policy/metrics.json $(XRUNS)/rm-scalar/metrics.json $(EXP)/grpo-scalar.yaml
	$(RMR1) grpo $(EXP)/grpo-scalar.yaml
$(XRUNS)/policy-eval/%/metrics.json: $(XRUNS)/grpo-%/metrics.json $(EXP)/policy-eval.yaml
	$(RMR1) policy-eval $(EXP)/policy-eval.yaml output_dir=$(@D) policy.name_or_path=$(XRUNS)/grpo-$*/model

# (3) one more turn of the loop (mk/loop.mk, recipes/loop) from the reasoning RM and its GRPO policy
XLOOP := $(XRUNS)/loop
XLOOP_VARS := ROUNDS=1 LOOP_RUNS=$(XLOOP) LOOP_SYNTH=$(XSYN) LOOP_JUDGE0=$(XRUNS)/rm-rl \
	LOOP_POLICY0=$(XRUNS)/grpo-reasoning
$(XLOOP)/loop.json: $(XRUNS)/grpo-reasoning/metrics.json $(XRUNS)/rm-rl/metrics.json $(wildcard recipes/loop/*.yaml)
	$(MAKE) loop $(XLOOP_VARS)

.PHONY: experiment
experiment: $(XEVALS) $(XRUNS)/policy-eval/reasoning/metrics.json $(XRUNS)/policy-eval/scalar/metrics.json \
		$(XLOOP)/loop.json
	$(RMR1) experiment-report $(XRUNS)
