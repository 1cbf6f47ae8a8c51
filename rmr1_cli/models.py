"""Loading tokenizers and models: dtype, device, safety settings and the small offline model.

Every stage loads weights through here so that one recipe spec means the same thing everywhere:
safetensors only, ``trust_remote_code`` off unless the recipe turns it on, ``auto`` dtype = bf16 on a
GPU that supports it and fp32 on the CPU.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from rmr1_cli.config import ModelSpec
from rmr1_cli.errors import ConfigError, ModelError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def resolve_device(spec: ModelSpec) -> str:
    import torch

    if spec.device != "auto":
        return spec.device
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def resolve_dtype(spec: ModelSpec, device: str | None = None) -> torch.dtype:
    import torch

    device = device or resolve_device(spec)
    if spec.dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, spec.dtype)


def load_tokenizer(spec: ModelSpec, *, padding_side: str = "left") -> PreTrainedTokenizerBase:
    """Load the tokenizer; give it a pad token (never silently the eos of a custom model)."""
    from transformers import AutoTokenizer

    _check_exists(spec)
    try:
        tok = AutoTokenizer.from_pretrained(
            _source(spec),
            trust_remote_code=spec.trust_remote_code,
            revision=spec.revision,
            gguf_file=spec.gguf_file,
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of '{spec.name_or_path}': {exc}") from None
    if tok.pad_token is None:
        # Hub instruct models often lack a pad token; eos as pad is safe here because every trainer
        # and the generation code mask padding with the attention mask, not by token id.
        tok.pad_token = tok.eos_token
    tok.padding_side = padding_side
    return tok


def require_chat_template(tokenizer, spec: ModelSpec) -> None:
    """Conversational training and judging need a chat template; say so before any weights load."""
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(
            f"the tokenizer of '{spec.name_or_path}' has no chat template; judges are trained and run on chat "
            "messages, so use an instruct/chat model (or add a chat_template to its tokenizer_config.json)"
        )


def load_causal_lm(spec: ModelSpec, *, device: str | None = None) -> PreTrainedModel:
    """Load a causal LM onto its device in the recipe's dtype (safetensors only)."""
    from transformers import AutoModelForCausalLM

    device = device or resolve_device(spec)
    model = _from_pretrained(AutoModelForCausalLM, spec, device)
    return model.to(device)


def load_sequence_classifier(
    spec: ModelSpec, *, num_labels: int = 1, device: str | None = None, trained_head: bool = False
):
    """Load a scalar reward model (a sequence classifier with one output).

    ``trained_head``: the checkpoint must hold the classifier's weights. transformers would otherwise
    start a missing head at random (its warning is silenced here), and scoring with it gives numbers
    that change from one load to the next; ``train-rm`` starts from a base model and leaves this off.
    """
    from transformers import AutoModelForSequenceClassification

    device = device or resolve_device(spec)
    model, info = _from_pretrained(
        AutoModelForSequenceClassification, spec, device, num_labels=num_labels, output_loading_info=True
    )
    head = [k for k in info.get("missing_keys", ()) if k.split(".")[0] in ("score", "classifier", "v_head")]
    if trained_head and head:
        raise ConfigError(
            f"scalar_model {spec.name_or_path}: the checkpoint has no trained score head (missing "
            f"{', '.join(sorted(head))}); give a reward model trained with `rmr1 train-rm` (or another "
            "sequence-classifier checkpoint), not a base or chat model"
        )
    return model.to(device)


def model_kwargs(spec: ModelSpec, device: str | None = None) -> dict:
    """The ``from_pretrained`` keyword arguments of a spec (also handed to trl's ``model_init_kwargs``)."""
    device = device or resolve_device(spec)
    kwargs = {
        "dtype": resolve_dtype(spec, device),
        "trust_remote_code": spec.trust_remote_code,
        "use_safetensors": spec.gguf_file is None,
    }
    if spec.revision:
        kwargs["revision"] = spec.revision
    if spec.attn_implementation:
        kwargs["attn_implementation"] = spec.attn_implementation
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file
    return kwargs


def model_identity(spec: ModelSpec) -> str:
    """A short, stable fingerprint of the weights a spec points at (part of judge cache keys).

    For a local folder it hashes the config and the weight files' names and sizes, so retraining into
    the same folder gives a new identity; for a hub id it is the id and revision.
    """
    path = Path(spec.name_or_path)
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(path.iterdir()):
            if f.suffix in (".safetensors", ".gguf", ".bin") or f.name == "config.json":
                stat = f.stat()
                h.update(f"{f.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
        h.update((spec.gguf_file or "").encode())
    else:
        h.update(f"{spec.name_or_path}@{spec.revision}".encode())
    h.update(spec.dtype.encode())
    return h.hexdigest()[:16]


def _from_pretrained(auto_cls, spec: ModelSpec, device: str, **extra):
    _check_exists(spec)
    try:
        return auto_cls.from_pretrained(_source(spec), **model_kwargs(spec, device), **extra)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model '{spec.name_or_path}': {exc}") from None


def _source(spec: ModelSpec) -> str:
    if not spec.name_or_path:
        raise ModelError("no model given: set model.name_or_path in the recipe (a folder or a hub id)")
    return spec.name_or_path


def _check_exists(spec: ModelSpec) -> None:
    """Fail early with a useful message for a local path that does not exist."""
    name = _source(spec)
    looks_local = name.startswith((".", "/", "~")) or name.count("/") != 1 or Path(name).exists()
    if looks_local and not Path(name).expanduser().exists():
        raise ModelError(
            f"model folder '{name}' does not exist (build the tiny model with `rmr1 tiny-model {name}` "
            "or point model.name_or_path at a trained stage's output)"
        )
