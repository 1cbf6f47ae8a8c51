"""Build a tiny random-weight chat model offline, for tests and the CPU demo.

No machine here reaches a model hub, so rmr1 makes its own: a byte-level BPE tokenizer trained with
``tokenizers`` on the project's own text, a ChatML-style chat template with ``{% generation %}``
markers (so trl can put the loss on assistant turns only), and a small Llama model. A Llama config
keeps the saved tokenizer pipeline as is. ``arch="qwen2"`` builds the shipped 7B recipes' architecture
instead: transformers reloads a ``qwen2`` tokenizer as Qwen2Tokenizer with Qwen2's own normalizer and
pre-tokenizer, so the tokenizer is trained with that pipeline (otherwise its ids change on reload).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# ChatML turns. The assistant content and its end-of-turn token sit inside the generation markers,
# so ``assistant_only_loss`` trains the model to close its turn.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
# The protocol's tags as single tokens: a 1M-parameter model learns the format far faster this way.
PROTOCOL_TOKENS = [
    "<type>", "</type>", "<rubric>", "</rubric>", "<justify>", "</justify>", "<solution>", "</solution>",
    "<eval>", "</eval>", "<quote_A>", "</quote_A>", "<summary_A>", "</summary_A>", "<quote_B>",
    "</quote_B>", "<summary_B>", "</summary_B>", "<answer>", "</answer>", "[[A]]", "[[B]]",
    "<think>", "</think>",
]  # fmt: skip


def build_tiny_model(
    out_dir: str | Path,
    *,
    corpus_files: Iterable[str | Path] = (),
    vocab_size: int = 2048,
    hidden_size: int = 128,
    num_layers: int = 4,
    num_heads: int = 4,
    max_positions: int = 4096,
    seed: int = 0,
    arch: str = "llama",
) -> Path:
    """Write a tokenizer and a random-weight causal LM (~1M parameters; ``arch`` llama or qwen2)."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    if arch not in ("llama", "qwen2"):
        raise ValueError(f"arch must be llama or qwen2, got {arch!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    if arch == "qwen2":
        from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(corpus_files), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
        model_max_length=max_positions,
    )
    fast.add_tokens(PROTOCOL_TOKENS)
    fast.save_pretrained(out)

    torch.manual_seed(seed)
    config_cls, model_cls = (
        (Qwen2Config, Qwen2ForCausalLM) if arch == "qwen2" else (LlamaConfig, LlamaForCausalLM)
    )
    config = config_cls(
        vocab_size=len(fast),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = model_cls(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    return out


def _corpus(files: Iterable[str | Path]) -> Iterable[str]:
    """The project's own text: sample data, prompt templates, and a few lines of plain English."""
    from rmr1_cli.judging import prompts

    yield from _BASE_TEXT
    for name in prompts.available_templates():
        template = prompts.load_template(name)
        yield template.system
        yield template.user
    for file in files:
        path = Path(file)
        if path.is_file():
            yield from path.read_text(encoding="utf-8").splitlines()


_BASE_TEXT = [
    "The quick brown fox jumps over the lazy dog. 0 1 2 3 4 5 6 7 8 9 + - * / = ( ) [ ] { } < > :",
    "Chatbot A and Chatbot B answered the user. Which response is better and why?",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "I can't help with that request, but here is a safer alternative you could try.",
]


def build_scripted_model(source: str | Path, out: str | Path, reply: str, *, then: str = "stop") -> Path:
    """A tiny model rewired so that greedy decoding always writes ``reply`` (tests and benchmarks need a
    model that produces a real verdict, which random weights never do).

    Attention and MLP outputs are zeroed, so the next token depends only on the current one, and the
    output head maps each token of the reply to the next. ``then="stop"`` ends with end-of-sequence;
    ``then="repeat"`` loops on the reply's last two tokens forever (a judge that babbles past its verdict).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source)
    opening = tok.apply_chat_template(
        [{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True
    )
    text = tok(reply, add_special_tokens=False)["input_ids"]
    last = tok.eos_token_id if then == "stop" else text[-2]
    chain = [tok(opening, add_special_tokens=False)["input_ids"][-1], *text, last]
    if then == "stop" and len(set(chain)) != len(chain):  # a token seen twice would have two successors
        raise ValueError(f"reply {reply!r} repeats a token; the rewired model could not write it")
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        emb = model.model.embed_tokens.weight
        head = torch.zeros_like(emb)
        for current, following in zip(chain, chain[1:], strict=False):
            head[following] += 10 * emb[current] / emb[current].norm()
    model.config.tie_word_embeddings = False
    model.lm_head = torch.nn.Linear(emb.shape[1], emb.shape[0], bias=False)
    model.lm_head.weight = torch.nn.Parameter(head)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return Path(out)
