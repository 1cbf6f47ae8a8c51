"""Judge templates: packaged files, rendering, multi-turn transcripts and every loading error."""

import hashlib

import pytest

from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.judging.prompts import available_templates, load_template, render_conversation

PLACEHOLDERS = ("{conversation}", "{answer_a}", "{answer_b}")


def test_packaged_templates_load_and_name_their_parser():
    assert {"cor", "think"} <= set(available_templates())
    cor, think = load_template("cor"), load_template("think")
    assert (cor.name, cor.parser, think.name, think.parser) == ("cor", "cor", "think", "plain")
    assert cor.system and not think.system
    assert cor.sha256 == hashlib.sha256(open(cor.source, "rb").read()).hexdigest()


def test_cor_asks_for_every_protocol_tag():
    cor = load_template("cor")
    for tag in (
        "<type>",
        "Reasoning",
        "Chat",
        "<solution>",
        "<rubric>",
        "<justify>",
        "<eval>",
        "<quote_A>",
        "<summary_A>",
        "<quote_B>",
        "<summary_B>",
        "<answer>[[A]]</answer>",
        "<answer>[[B]]</answer>",
    ):
        assert tag in cor.system, tag


@pytest.mark.parametrize("name", ["cor", "think"])
def test_render_replaces_placeholders_and_keeps_braces(name):
    answer_a = 'def f(d): return {"k": d["{answer_b}"]}'
    answer_b = "Use {name} and {{double}} braces {0}"
    messages = load_template(name).render("Write f.", answer_a, answer_b)
    assert [m["role"] for m in messages] == (["system", "user"] if name == "cor" else ["user"])
    user = messages[-1]["content"]
    assert "Write f." in user and answer_a in user and answer_b in user
    assert user.index(answer_a) < user.index(answer_b)
    assert not any(p in m["content"].replace(answer_a, "") for m in messages for p in PLACEHOLDERS)


def test_multi_turn_conversation_is_a_labelled_transcript():
    conversation = [
        {"role": "system", "content": "You are a travel agent."},
        {"role": "user", "content": "Plan a day in Rome."},
        {"role": "assistant", "content": "Colosseum in the morning..."},
        {"role": "user", "content": "Make it cheaper."},
    ]
    text = render_conversation(conversation)
    assert text.index("[System]") < text.index("[User]") < text.index("[Assistant]") < text.rindex("[User]")
    assert text.endswith("[User]\nMake it cheaper.")
    user = load_template("cor").render(conversation, "a", "b")[-1]["content"]
    assert "[Assistant]\nColosseum in the morning..." in user


@pytest.mark.parametrize(
    "conversation, match",
    [
        ([], "non-empty list"),
        ([{"content": "hi"}], "turn 0 must be a dict with 'role' and 'content'"),
        ([{"role": "user", "content": "hi"}, "oops"], "turn 1"),
        ([{"role": "tool", "content": "x"}], "turn 0 has role 'tool'"),
        ([{"role": "user", "content": None}], "turn 0 content must be a string"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "end with a user turn"),
    ],
)
def test_malformed_conversation_is_a_data_error(conversation, match):
    with pytest.raises(DataError, match=match):
        render_conversation(conversation)


def test_load_yaml_path_and_txt_path(tmp_path):
    yaml_file = tmp_path / "published.yml"
    yaml_file.write_text(
        "name: published\nparser: cor\nsystem: Judge {style}.\n"
        "user: |-\n  Q: {conversation}\n  A: {answer_a}\n  B: {answer_b}\n"
    )
    t = load_template(str(yaml_file))
    assert (t.name, t.parser, t.source) == ("published", "cor", str(yaml_file.resolve()))
    assert t.render("1+1?", "2", "3") == [
        {"role": "system", "content": "Judge {style}."},
        {"role": "user", "content": "Q: 1+1?\nA: 2\nB: 3"},
    ]
    txt_file = tmp_path / "plain.txt"
    txt_file.write_text("{conversation}|{answer_a}|{answer_b}\n")
    t = load_template(str(txt_file))
    assert (t.name, t.parser, t.system) == ("plain", "plain", "")
    assert t.render("q", "a", "b") == [{"role": "user", "content": "q|a|b\n"}]


def test_missing_placeholder_names_file_and_placeholder(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("system: '{conversation}'\nuser: 'A: {answer_a}'\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*missing placeholder \{answer_b\}"):
        load_template(str(path))


@pytest.mark.parametrize(
    "content, match",
    [
        ("user: [1, 2]\n", "'user' must be text"),
        ("usr: x\n", "unknown key 'usr'; did you mean 'user'"),
        ("parser: json\nuser: '{conversation}{answer_a}{answer_b}'\n", "parser must be one of"),
        ("- a list\n", "expected a mapping"),
        ("user: [unclosed\n", "invalid YAML"),
        ("system: '{conversation}{answer_a}{answer_b}'\n", "user text is empty"),
    ],
)
def test_bad_yaml_files_are_config_errors(tmp_path, content, match):
    path = tmp_path / "t.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=match):
        load_template(str(path))


def test_unknown_name_lists_templates_and_closest_match():
    with pytest.raises(ConfigError, match=r"unknown judge template 'cot'; did you mean 'cor'\?.*cor, think"):
        load_template("cot")


def test_bad_paths_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_template(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match=r"expected a \.yaml, \.yml or \.txt file"):
        load_template(str(tmp_path / "template.json"))
