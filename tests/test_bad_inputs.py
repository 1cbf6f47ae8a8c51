"""Every bad input a user can give a stage ends in one red line and exit code 2: no traceback, the
message names the key or file:line, and the output folder (here: a finished run) is left as it was.

The table runs the CLI's own stage function in-process (what ``python -m rmr1_cli`` calls); two cases
run the real command in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from rmr1_cli import cli, run_dir

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
SURROGATE = '"x \\ud800"'  # valid JSON, but not valid Unicode
FINISHED = {"recipe.yaml": b"old: run\n", "metrics.json": b"{}\n", "results.jsonl": b'{"a": 1}\n'}


def _files(tmp: Path) -> dict[str, Path]:
    """Input files with a lone surrogate (one per loader), a folder and a non-UTF-8 recipe."""
    pairs = tmp / "pairs.jsonl"
    pairs.write_text('{"prompt": "ok", "chosen": "a", "rejected": "b"}\n'
                     f'{{"prompt": {SURROGATE}, "chosen": "a", "rejected": "b"}}\n')  # fmt: skip
    prompts = tmp / "prompts.jsonl"
    prompts.write_text(f'{{"prompt": "ok", "reference": {SURROGATE}}}\n')
    traces = tmp / "traces.jsonl"
    traces.write_text(f'{{"messages": [{{"role": "user", "content": {SURROGATE}}}]}}\n')
    folder = tmp / "a-folder"
    folder.mkdir()
    latin = tmp / "latin1.yaml"
    latin.write_bytes("limit: 3 # caf\xe9\n".encode("latin-1"))
    a_file = tmp / "a-file"
    a_file.write_text("not a folder\n")
    return {"pairs": pairs, "prompts": prompts, "traces": traces, "folder": folder, "latin": latin,
            "file": a_file, "missing": tmp / "no-such-model"}  # fmt: skip


# (stage, overrides with {placeholders}, recipe file or None, what the message must name)
CASES = {
    **{
        f"{stage}-limit-{value}": (stage, [f"limit={value}"], None, f"limit: must be at least 1, got {value}")
        for stage in ("judge", "sft", "train-rm", "grpo", "distill", "refine", "policy-eval", "eval")
        for value in (0, -1)
    },
    "judge-batch-size-0": ("judge", ["judge.generation.batch_size=0"], None, "judge.generation.batch_size"),
    "distill-batch-size-neg": ("distill", ["generation.batch_size=-2"], None, "generation.batch_size"),
    "refine-teacher-batch-size": ("refine", ["teacher.generation.batch_size=0"], None, "teacher.generation.batch_size"),
    "grpo-judge-batch-size": ("grpo", ["reward.judge.generation.batch_size=0"], None, "reward.judge.generation.batch_size"),
    "max-new-tokens-0": ("judge", ["judge.generation.max_new_tokens=0"], None, "judge.generation.max_new_tokens"),
    "policy-eval-max-new-tokens": ("policy-eval", ["generation.max_new_tokens=0"], None, "generation.max_new_tokens"),
    "temperature-neg": ("judge", ["judge.generation.temperature=-1"], None, "judge.generation.temperature"),
    "top-p-0": ("refine", ["generation.top_p=0"], None, "generation.top_p"),
    "bootstrap-neg": ("eval", ["bootstrap=-5"], None, "bootstrap: must be at least 0"),
    "eval-batch-size-neg": ("eval", ["batch_size=-1"], None, "batch_size: must be at least 1"),
    "samples-0": ("judge", ["judge.samples=0"], None, "judge.samples"),
    "serve-port": ("serve", ["port=70000"], None, "port"),
    "serve-timeout": ("serve", ["read_timeout_s=0"], None, "read_timeout_s"),
    "trl-batch-size-neg": ("sft", ["model.name_or_path={model}", "train_file=" + str(SAMPLES / "traces_source.jsonl"),
                           "trainer.per_device_train_batch_size=-1"], None, "trainer.per_device_train_batch_size"),
    "trl-grad-accum-0": ("sft", ["model.name_or_path={model}", "train_file=" + str(SAMPLES / "traces_source.jsonl"),
                         "trainer.gradient_accumulation_steps=0"], None, "trainer.gradient_accumulation_steps"),
    "trl-unknown-key": ("sft", ["model.name_or_path={model}", "train_file=" + str(SAMPLES / "traces_source.jsonl"),
                        "trainer.learnig_rate=1"], None, "trainer.learnig_rate"),
    "output-dir-is-a-file": ("judge", ["output_dir={file}", f"pairs_file={SAMPLES / 'pairs.jsonl'}"], None, "is a file"),
    "recipe-is-a-folder": ("judge", [], "{folder}", "a-folder: a folder, not a recipe file"),
    "recipe-not-utf8": ("judge", [], "{latin}", "latin1.yaml: not UTF-8"),
    "surrogate-in-pairs": ("judge", ["pairs_file={pairs}"], None, "pairs.jsonl:2: field 'prompt'"),
    "surrogate-in-prompts": ("refine", ["prompts_file={prompts}", "model.name_or_path={model}", "select=wrong_answer"],
                             None, "prompts.jsonl:1: field 'reference'"),
    "surrogate-in-traces": ("sft", ["train_file={traces}", "model.name_or_path={model}"], None,
                            "traces.jsonl:1: field 'messages[0].content'"),
    "surrogate-in-distill": ("distill", ["pairs_file={pairs}", "teacher.name_or_path={model}"], None, "pairs.jsonl:2"),
    "missing-model-after-claim": ("judge", ["judge.model.name_or_path={missing}", f"pairs_file={SAMPLES / 'pairs.jsonl'}",
                                  "limit=1"], None, "no-such-model"),
    "credentials-in-url": ("judge", ["judge.generation.backend=openai", "judge.generation.served_model=m",
                           "judge.generation.base_url=http://me:hunter2@127.0.0.1:9/v1", "judge.generation.max_retries=0",
                           "judge.generation.timeout_s=2", f"pairs_file={SAMPLES / 'pairs.jsonl'}", "limit=1"],
                           None, "http://***@127.0.0.1:9"),
}  # fmt: skip


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under a folder with its bytes (the run's claim lock is not content)."""
    if folder.is_file():
        return {"": folder.read_bytes()}
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".rmr1.lock"
    }


def _fail(stage: str, recipe: Path | None, overrides: list[str], capsys) -> str:
    with pytest.raises(typer.Exit) as exit_info:
        cli._run_stage(stage, recipe, overrides, False)
    err = capsys.readouterr().err
    assert exit_info.value.exit_code == 2, err
    assert "Traceback" not in err and err.count("error:") == 1
    return " ".join(err.split())


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_input_is_one_red_line_and_leaves_the_output_folder_alone(case, tmp_path, capsys, request):
    stage, overrides, recipe, expected = CASES[case]
    files = _files(tmp_path)
    if any("{model}" in o for o in overrides):
        files["model"] = request.getfixturevalue("tiny_model_dir")
    out = tmp_path / "finished-run"
    out.mkdir()
    for name, content in FINISHED.items():
        (out / name).write_bytes(content)
    overrides = [o.format(**files) for o in overrides]
    if not any(o.startswith("output_dir=") for o in overrides) and stage != "serve":
        overrides.append(f"output_dir={out}")
    target = files["file"] if any(o == f"output_dir={files['file']}" for o in overrides) else out
    before = _snapshot(target)

    message = _fail(stage, Path(recipe.format(**files)) if recipe else None, overrides, capsys)

    assert expected in message
    assert "hunter2" not in message
    assert _snapshot(target) == before
    assert not run_dir._OPEN  # no run is left holding its folder


def test_a_failed_run_in_a_new_folder_leaves_no_stub(tmp_path, capsys):
    out = tmp_path / "runs" / "new"
    _fail("judge", None, [f"output_dir={out}", f"judge.model.name_or_path={tmp_path / 'nope'}",
                          f"pairs_file={SAMPLES / 'pairs.jsonl'}", "limit=1"], capsys)  # fmt: skip
    assert not (tmp_path / "runs").exists()


def test_a_second_process_is_refused_without_touching_a_running_run(tmp_path):
    """The folder's claim is held by another process: refused, and its recipe.yaml is kept."""
    out = tmp_path / "running"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(out / ".rmr1.lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    out.mkdir()
    (out / "recipe.yaml").write_text("running: yes\n")
    try:
        assert holder.stdout.readline().strip() == "held"
        done = subprocess.run(
            [sys.executable, "-m", "rmr1_cli", "judge", f"output_dir={out}", f"pairs_file={SAMPLES / 'pairs.jsonl'}",
             "judge.model.name_or_path=x", "limit=1"],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "in use by another rmr1 process" in done.stderr
    assert (out / "recipe.yaml").read_text() == "running: yes\n"


@pytest.mark.parametrize("args", [["judge", "{folder}"], ["judge", "pairs_file={pairs}", "limit=1"]])
def test_the_real_command_exits_2_without_a_traceback(args, tmp_path):
    files = _files(tmp_path)
    command = [
        sys.executable,
        "-m",
        "rmr1_cli",
        *(a.format(**files) for a in args),
        f"output_dir={tmp_path / 'o'}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "error:" in done.stderr
    assert not (tmp_path / "o").exists()


def test_secrets_are_masked_in_recipe_and_manifest(tmp_path, monkeypatch):
    from rmr1_cli import config

    monkeypatch.setattr(sys, "argv", ["rmr1", "sft", "trainer.hub_token=hf_SECRET", "x=http://u:pw@h/v1"])
    recipe = config.load_recipe(
        None,
        config.SFTRecipe,
        [f"output_dir={tmp_path}", "trainer.hub_token=hf_SECRET", "model.name_or_path=http://u:pw@h/m"],
    )
    run = run_dir.RunDir.create("sft", recipe)
    run.record_input("model", recipe.model.name_or_path)
    run.finish({})
    written = (tmp_path / "recipe.yaml").read_text() + (tmp_path / "manifest.json").read_text()
    assert "hf_SECRET" not in written and "pw@" not in written
    assert "hub_token: '***'" in written and "http://***@h/m" in written
