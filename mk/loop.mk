# make loop ROUNDS=N: N turns of the closed loop, each stage a file target (make reruns only what changed).
#   round r: refine (policy r-1 + RM r-1 find bad cases) -> distill (traces for them) -> sft (RM r-1 on
#   the traces) -> train-rm (RLVR on the refined pairs) = RM r -> eval (RM r on the test pairs)
#   -> grpo (policy r-1 with RM r as the reward, then policy-eval on held-out prompts) = policy r
# Round 0 is the starting point: by default the tiny synthetic-domain judge and policy below. Every
# LOOP_* variable can be set on the command line (make experiment runs a round on its own models).
ROUNDS        ?= 2
LOOP_RECIPES  ?= recipes/loop
LOOP_RUNS     ?= runs/loop
LOOP_SYNTH    ?= $(RUNS)/synth
LOOP_JUDGE0   ?= $(RUNS)/sft-synth
LOOP_POLICY0  ?= $(RUNS)/policy-sft-synth
LOOP_TEST     ?= $(LOOP_SYNTH)/pairs_test.jsonl

.PHONY: loop
loop: $(LOOP_RUNS)/round-$(ROUNDS)/grpo/metrics.json
	$(RMR1) loop-report $(LOOP_RUNS)

# the model folder a round starts from: round 0 = LOOP_*0, round r = round r's trained models
loop_judge  = $(if $(filter 0,$(1)),$(LOOP_JUDGE0),$(LOOP_RUNS)/round-$(1)/train-rm)
loop_policy = $(if $(filter 0,$(1)),$(LOOP_POLICY0),$(LOOP_RUNS)/round-$(1)/grpo)

# $(1) = this round, $(2) = the previous one
define loop_round
$(LOOP_RUNS)/round-$(1)/refine/metrics.json: $(call loop_policy,$(2))/metrics.json $(call loop_judge,$(2))/metrics.json $(LOOP_RECIPES)/refine.yaml
	$(RMR1) refine $(LOOP_RECIPES)/refine.yaml output_dir=$$(@D) seed=$(1) \
		model.name_or_path=$(call loop_policy,$(2))/model judge.model.name_or_path=$(call loop_judge,$(2))/model \
		prompts_file=$(LOOP_SYNTH)/prompts_train.jsonl
$(LOOP_RUNS)/round-$(1)/distill/metrics.json: $(LOOP_RUNS)/round-$(1)/refine/metrics.json $(LOOP_RECIPES)/distill.yaml
	$(RMR1) distill $(LOOP_RECIPES)/distill.yaml output_dir=$$(@D) seed=$(1) pairs_file=$(LOOP_RUNS)/round-$(1)/refine/pairs.jsonl
$(LOOP_RUNS)/round-$(1)/sft/metrics.json: $(LOOP_RUNS)/round-$(1)/distill/metrics.json $(LOOP_RECIPES)/sft.yaml
	$(RMR1) sft $(LOOP_RECIPES)/sft.yaml output_dir=$$(@D) seed=$(1) \
		model.name_or_path=$(call loop_judge,$(2))/model train_file=$(LOOP_RUNS)/round-$(1)/distill/traces.jsonl
$(LOOP_RUNS)/round-$(1)/train-rm/metrics.json: $(LOOP_RUNS)/round-$(1)/sft/metrics.json $(LOOP_RECIPES)/train-rm.yaml
	$(RMR1) train-rm $(LOOP_RECIPES)/train-rm.yaml output_dir=$$(@D) seed=$(1) \
		model.name_or_path=$(LOOP_RUNS)/round-$(1)/sft/model train_file=$(LOOP_RUNS)/round-$(1)/refine/pairs.jsonl \
		eval_file=$(LOOP_TEST)
$(LOOP_RUNS)/round-$(1)/eval/metrics.json: $(LOOP_RUNS)/round-$(1)/train-rm/metrics.json $(LOOP_RECIPES)/eval.yaml
	$(RMR1) eval $(LOOP_RECIPES)/eval.yaml output_dir=$$(@D) judge.model.name_or_path=$(LOOP_RUNS)/round-$(1)/train-rm/model \
		benchmark.path=$(LOOP_TEST)
$(LOOP_RUNS)/round-$(1)/grpo/metrics.json: $(LOOP_RUNS)/round-$(1)/eval/metrics.json $(LOOP_RECIPES)/grpo.yaml
	$(RMR1) grpo $(LOOP_RECIPES)/grpo.yaml output_dir=$$(@D) seed=$(1) \
		model.name_or_path=$(call loop_policy,$(2))/model reward.judge.model.name_or_path=$(LOOP_RUNS)/round-$(1)/train-rm/model \
		prompts_file=$(LOOP_SYNTH)/prompts_train.jsonl eval_prompts_file=$(LOOP_SYNTH)/prompts_test.jsonl
endef

# round 0: the starting RM on the same test pairs, so the report shows what round 1 changed
$(LOOP_RUNS)/round-0/eval/metrics.json: $(LOOP_JUDGE0)/metrics.json $(LOOP_RECIPES)/eval.yaml
	$(RMR1) eval $(LOOP_RECIPES)/eval.yaml output_dir=$(@D) judge.model.name_or_path=$(LOOP_JUDGE0)/model benchmark.path=$(LOOP_TEST)
$(LOOP_RUNS)/round-1/refine/metrics.json: $(LOOP_RUNS)/round-0/eval/metrics.json

$(foreach r,$(shell seq 1 $(ROUNDS)),$(eval $(call loop_round,$(r),$(shell echo $$(($(r)-1))))))

# ---- the tiny synthetic-domain starting point (round 0 of the default loop)
$(RUNS)/synth/metrics.json: $(TINY)/synth.yaml | setup
	$(RMR1) synth $(TINY)/synth.yaml
SYNTH_CORPUS := $(foreach f,pairs_train traces_train prompts_train policy_sft_train,--corpus $(RUNS)/synth/$(f).jsonl) \
	--corpus data/samples/pairs.jsonl
$(RUNS)/synth-base/config.json: $(RUNS)/synth/metrics.json
	$(RMR1) tiny-model $(@D) --seed 0 $(SYNTH_CORPUS)
$(RUNS)/synth-policy-base/config.json: $(RUNS)/synth/metrics.json
	$(RMR1) tiny-model $(@D) --seed 1 $(SYNTH_CORPUS)
$(RUNS)/sft-synth/metrics.json: $(RUNS)/synth-base/config.json $(TINY)/sft-synth.yaml
	$(RMR1) sft $(TINY)/sft-synth.yaml
$(RUNS)/policy-sft-synth/metrics.json: $(RUNS)/synth-policy-base/config.json $(TINY)/policy-sft-synth.yaml
	$(RMR1) sft $(TINY)/policy-sft-synth.yaml
