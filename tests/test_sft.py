"""``rmr1 sft``: rows, the over-length policy, loss on the trace tokens only (with any chat template),
and a run whose loss on its own traces falls."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rmr1_cli import config, data
from rmr1_cli.config import SFTRecipe
from rmr1_cli.stages import sft

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "data" / "samples" / "traces_source.jsonl"

# A Qwen2.5-style template: a default system prompt when the conversation has none, and no
# {% generation %} markers, so trl cannot use assistant masks and must rely on the prompt-completion split.
QWEN_STYLE = (
    "{%- if messages[0]['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def test_trace_sources_become_prompt_completion_rows():
    rows = sft.load_sft_rows(str(TRACES), "compact", limit=3)
    sources = data.load_trace_sources(TRACES, limit=3)
    assert len(rows) == 3
    for row, src in zip(rows, sources, strict=True):
        assert row["completion"] == [{"role": "assistant", "content": src["trace"]}]
        assert row["prompt"][-1]["role"] == "user"
        assert src["answer_a"] in row["prompt"][-1]["content"]


def test_messages_rows_split_off_the_last_assistant_turn(tmp_path):
    path = tmp_path / "traces.jsonl"
    messages = [
        {"role": "system", "content": "judge"},
        {"role": "user", "content": "A or B?"},
        {"role": "assistant", "content": "<answer>[[A]]</answer>"},
    ]
    data.write_jsonl(path, [{"messages": messages}])
    (row,) = sft.load_sft_rows(str(path), "cor", None)
    assert row == {"prompt": messages[:2], "completion": messages[2:]}


def test_over_length_policy_drops_or_keeps_and_counts(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = sft.load_sft_rows(str(TRACES), "compact", limit=6)
    lengths = [
        len(tok(tok.apply_chat_template(r["prompt"] + r["completion"], tokenize=False))["input_ids"])
        for r in rows
    ]
    limit = sorted(lengths)[2]  # the three longest rows are over
    kept, n_over = sft.apply_length_policy(rows, tok, limit, "drop")
    assert n_over == sum(n > limit for n in lengths) == 3
    assert len(kept) == 3
    kept, n_over = sft.apply_length_policy(rows, tok, limit, "truncate")
    assert (len(kept), n_over) == (6, 3)


def _tokenizer_with_template(tiny_model_dir: Path, tmp_path: Path, template: str | None) -> Path:
    if template is None:
        return tiny_model_dir
    folder = tmp_path / "tok"
    shutil.copytree(tiny_model_dir, folder)
    cfg_path = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["chat_template"] = template
    cfg_path.write_text(json.dumps(cfg))
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    return folder


@pytest.mark.parametrize("template", [None, QWEN_STYLE], ids=["tiny-chatml-with-markers", "qwen-style"])
@pytest.mark.parametrize("packing", [False, True], ids=["padded", "packed"])
def test_only_trace_tokens_carry_loss(tiny_model_dir, tmp_path, template, packing):
    """The tokens that carry loss are exactly the trace and the end-of-turn that closes it."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    model_dir = _tokenizer_with_template(tiny_model_dir, tmp_path, template)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = sft.load_sft_rows(str(TRACES), "compact", limit=3)
    args = SFTConfig(
        output_dir=str(tmp_path / "out"), max_length=4096, packing=packing, bf16=False, report_to="none"
    )
    trainer = SFTTrainer(
        model=str(model_dir), args=args, train_dataset=Dataset.from_list(rows), processing_class=tok
    )
    examples = list(trainer.train_dataset)
    labelled = [[t for t in ex["labels"] if t != -100] for ex in examples]
    texts = sorted(tok.decode(ids) for ids in labelled) if not packing else None
    expected = sorted(r["completion"][0]["content"] + "<|im_end|>\n" for r in rows)
    if packing:  # one packed sequence: its loss tokens are the three traces, nothing from the prompts
        (ex,) = examples
        assert len(labelled[0]) == sum(len(tok(e, add_special_tokens=False)["input_ids"]) for e in expected)
        for trace in expected:
            assert trace.split("\n")[0] in tok.decode(labelled[0])
    else:
        assert texts == expected
        for ex, row in zip(examples, rows, strict=True):
            prompt_ids = tok.apply_chat_template(row["prompt"], tokenize=True, add_generation_prompt=True)
            prompt_ids = prompt_ids if isinstance(prompt_ids, list) else prompt_ids["input_ids"]
            n_prompt = sum(label == -100 for label in ex["labels"])
            assert ex["input_ids"][:n_prompt] == prompt_ids  # everything before the trace is the prompt


def trace_loss(model_dir: Path, rows: list[dict]) -> float:
    """Mean token loss of the model on the traces of ``rows`` (prompt tokens masked), in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    total, count = 0.0, 0
    for row in rows:
        prompt = tok.apply_chat_template(row["prompt"], tokenize=True, add_generation_prompt=True)
        prompt = prompt if isinstance(prompt, list) else prompt["input_ids"]
        trace = tok(row["completion"][0]["content"] + "<|im_end|>", add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt + trace])
        labels = torch.tensor([[-100] * len(prompt) + trace])
        with torch.no_grad():
            loss = model(input_ids=ids, labels=labels).loss
        n = len(trace)
        total, count = total + loss.item() * n, count + n
    return total / count


@pytest.mark.slow
def test_sft_lowers_the_loss_on_its_traces(tiny_model_dir, in_tmp_cwd, capsys):
    recipe = config.load_recipe(
        None,
        SFTRecipe,
        [
            "output_dir=sft",
            f"model.name_or_path={tiny_model_dir}",
            f"train_file={TRACES}",
            "template=compact",
            "limit=8",
            "trainer.per_device_train_batch_size=4",
            "trainer.learning_rate=3e-3",
            "trainer.max_steps=8",
            "trainer.logging_steps=1",
        ],
    )
    rows = sft.load_sft_rows(str(TRACES), "compact", limit=8)
    before = trace_loss(tiny_model_dir, rows)
    out = sft.run(recipe)
    after = trace_loss(out / "model", rows)
    assert after < before - 1.0, (before, after)
    assert "loss" not in capsys.readouterr().out  # trainer logs go to stderr; stdout is for results

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 8
    assert metrics["examples"] == 8 and metrics["over_length"] == 0
    assert metrics["loss_last"] < metrics["loss_first"]
    for name in ("loss.png", "train_log.jsonl", "trainer_args.json", "manifest.json", "recipe.yaml"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["train_file"].startswith("sha256:")
    assert json.loads((out / "trainer_args.json").read_text())["learning_rate"] == 3e-3
