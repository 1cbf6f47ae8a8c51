"""Data-parallel judging: each rank of a launch judges its own shard of the pairs into its own files,
and rank 0 merges the shards into the files one process would have written.

A rank is what ``torchrun`` and ``accelerate launch`` start: they set ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``. No collective is needed, so no process group is joined: ranks only share the output
folder, and a plain shell loop that sets those variables works as well (e.g. one rank per vLLM server).

- Shards are strided: rank ``r`` of ``W`` judges pairs ``r, r+W, r+2W, ...`` of the file. A file sorted
  by subset or length (most are) then spreads its long pairs over every rank, and a rank's shard is
  read in one pass without knowing the file's length.
- Files per rank: ``judgments.rank{r}.jsonl`` (its cache: one writer per file, so two nodes never
  interleave lines), ``results.rank{r}.jsonl`` (its results, in input order) and, once its shard is
  done, ``metrics.rank{r}.json`` (its summary sums and engine counts: the finish marker).
- Merge: rank 0 waits for every rank's marker of the recipe and input it runs with, then
  interleaves the result files back into input order and adds up the sums. A run that was killed, or
  whose rank 0 gave up waiting, is resumed by running the same command again: every rank reuses its
  cache and its results, and rank 0 merges.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from rmr1_cli.config import JudgeSpec
from rmr1_cli.data import write_json, write_jsonl
from rmr1_cli.errors import DataError
from rmr1_cli.judging.records import PairSummary

T = TypeVar("T")
POLL_S = 2.0  # how often rank 0 looks for the other ranks' markers


@dataclass(frozen=True)
class Shard:
    """This process's place in a data-parallel launch (rank 0 of 1 when not launched)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Shard:
        """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` as torchrun and accelerate set them.

        >>> Shard.from_env({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"})
        Shard(rank=3, world=8, local_rank=1)
        >>> Shard.from_env({})
        Shard(rank=0, world=1, local_rank=0)
        """
        env = os.environ if env is None else env
        try:
            rank, world = int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1"))
            local = int(env.get("LOCAL_RANK", str(rank)))
        except ValueError as err:
            raise DataError(f"RANK / WORLD_SIZE / LOCAL_RANK must be integers ({err})") from None
        if world < 1 or not 0 <= rank < world:
            raise DataError(f"RANK={rank} with WORLD_SIZE={world}: a rank is 0 <= RANK < WORLD_SIZE")
        return cls(rank, world, local)

    @property
    def parallel(self) -> bool:
        return self.world > 1

    def name(self, filename: str) -> str:
        """This rank's own file for ``filename`` (the name itself when not parallel).

        >>> Shard(2, 4).name("results.jsonl"), Shard().name("results.jsonl")
        ('results.rank2.jsonl', 'results.jsonl')
        """
        if not self.parallel:
            return filename
        stem, dot, suffix = filename.partition(".")
        return f"{stem}.rank{self.rank}{dot}{suffix}"

    def take(self, items: Iterable[T]) -> Iterator[T]:
        """This rank's items: every ``world``-th, from the ``rank``-th.

        >>> list(Shard(1, 3).take(range(8)))
        [1, 4, 7]
        """
        for index, item in enumerate(items):
            if index % self.world == self.rank:
                yield item

    def size(self, total: int) -> int:
        """How many of ``total`` items this rank takes.

        >>> [Shard(r, 3).size(8) for r in range(3)]
        [3, 3, 2]
        """
        return len(range(self.rank, total, self.world))


def rank_device(device: str, local_rank: int, *, world: int, cuda: bool) -> str:
    """The device of a rank's judge: ``cuda:LOCAL_RANK`` when the recipe says ``auto`` or ``cuda`` and
    there is a GPU; anything more precise (``cuda:3``, ``cpu``) is kept, as is everything of one process.

    >>> rank_device("auto", 3, world=8, cuda=True), rank_device("cuda", 1, world=2, cuda=True)
    ('cuda:3', 'cuda:1')
    >>> rank_device("auto", 3, world=8, cuda=False), rank_device("cuda:0", 3, world=8, cuda=True)
    ('auto', 'cuda:0')
    >>> rank_device("auto", 0, world=1, cuda=True)
    'auto'
    """
    if world > 1 and cuda and device in ("auto", "cuda"):
        return f"cuda:{local_rank}"
    return device


def on_rank_device(judge: JudgeSpec, shard: Shard) -> JudgeSpec:
    """``judge`` with its model on this rank's device (the device is not part of any cache key)."""
    if not shard.parallel or judge.generation.backend != "transformers":
        return judge
    import torch

    device = rank_device(
        judge.model.device, shard.local_rank, world=shard.world, cuda=torch.cuda.is_available()
    )
    return (
        judge if device == judge.model.device else replace(judge, model=replace(judge.model, device=device))
    )


# -- finishing and merging ------------------------------------------------------------------------


def launch_fingerprint(recipe_yaml: str, pairs_file: str | Path) -> str:
    """What the ranks of one launch share: the resolved recipe and the pairs file (its size and time
    of change: the same on every node of a shared filesystem, and cheap), hashed."""
    try:
        stat = Path(pairs_file).stat()
        seen = f"{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:  # a PATH::SPLIT or a folder: the recipe names it
        seen = ""
    return hashlib.sha256(f"{recipe_yaml}\0{seen}".encode()).hexdigest()[:16]


def write_marker(folder: Path, shard: Shard, summary: PairSummary, engine: dict, fingerprint: str) -> None:
    """This rank's shard is judged and its results are on disk: say so, with what rank 0 adds up."""
    results = folder / shard.name("results.jsonl")
    write_json(
        folder / shard.name("metrics.json"),
        {
            "rank": shard.rank,
            "world": shard.world,
            "recipe": fingerprint,
            "finished": time.time(),
            "results_bytes": results.stat().st_size,
            "summary": summary.to_json(),
            "engine": engine,
        },
    )


def clear_marker(folder: Path, shard: Shard) -> None:
    """A rank starting again is not finished, whatever an earlier run of it said."""
    (folder / shard.name("metrics.json")).unlink(missing_ok=True)


def wait_for_ranks(folder: Path, world: int, fingerprint: str, timeout_s: float) -> list[dict]:
    """Every rank's marker, once each rank has written one for this launch; DataError after
    ``timeout_s`` naming the ranks still missing (their work so far is kept for the next run)."""
    deadline = time.monotonic() + timeout_s
    while True:
        markers = [_marker(folder, Shard(rank, world), fingerprint) for rank in range(world)]
        missing = [rank for rank, m in enumerate(markers) if m is None]
        if not missing:
            return markers  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise DataError(
                f"{folder}: rank(s) {', '.join(map(str, missing))} of {world} did not finish within "
                f"merge_timeout_s={timeout_s:g}; what every rank judged is kept: run the same command "
                "again to resume, and rank 0 merges once all ranks are done"
            )
        time.sleep(POLL_S)


def _marker(folder: Path, shard: Shard, fingerprint: str) -> dict | None:
    """A rank's marker when it is for this recipe and input and its results file is as it left it.

    A marker left by an earlier launch of the same command describes the same results (a rank clears
    its own marker as it starts, before touching its results), so it needs no launch id or clock."""
    path = folder / shard.name("metrics.json")
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
        results_bytes = (folder / shard.name("results.jsonl")).stat().st_size
    except (OSError, ValueError):
        return None
    ours = marker.get("recipe") == fingerprint and marker.get("results_bytes") == results_bytes
    return marker if ours else None


def merge_results(folder: Path, world: int, total: int) -> Path:
    """Interleave ``results.rank{r}.jsonl`` back into input order as ``results.jsonl`` (atomically;
    one line of each file in memory at a time)."""
    with ExitStack() as stack:
        files = [
            stack.enter_context(open(folder / Shard(r, world).name("results.jsonl"), encoding="utf-8"))
            for r in range(world)
        ]

        def rows() -> Iterator[dict[str, Any]]:
            for index in range(total):
                line = files[index % world].readline()
                if not line:
                    raise DataError(
                        f"{files[index % world].name}: ends before pair {index} of {total}; run the same "
                        "command again to judge what is missing"
                    )
                yield json.loads(line)

        return write_jsonl(folder / "results.jsonl", rows())


def merge_engine_stats(stats: list[dict]) -> dict:
    """The ranks' engine counts added up; ``seconds`` is the slowest rank's (the wall-clock time of
    the launch) and the rates are recomputed from the sums.

    >>> merge_engine_stats([{"pairs": 2, "tokens": 10, "seconds": 1.0, "valid": 2, "judgments": 4,
    ...   "verdict_a": 1, "consistent": 1, "checked": 2, "invalid_reasons": {"x": 1}},
    ...  {"pairs": 1, "tokens": 5, "seconds": 2.0, "valid": 1, "judgments": 2, "verdict_a": 1,
    ...   "consistent": 1, "checked": 1, "invalid_reasons": {"x": 2}}])["pairs_per_s"]
    1.5
    """
    rates = {"valid_rate", "p_verdict_a", "consistency", "tokens_per_s", "pairs_per_s"}
    out: dict[str, Any] = {}
    for one in stats:
        for key, value in one.items():
            if key in rates:
                continue
            if key == "seconds":
                out[key] = max(out.get(key, 0.0), value)
            elif key == "invalid_reasons":
                reasons = out.setdefault(key, {})
                for reason, n in value.items():
                    reasons[reason] = reasons.get(reason, 0) + n
            else:
                out[key] = out.get(key, 0) + value
    ratio = lambda a, b: out.get(a, 0) / out[b] if out.get(b) else None  # noqa: E731
    return out | {
        "valid_rate": ratio("valid", "judgments"),
        "p_verdict_a": ratio("verdict_a", "valid"),
        "consistency": ratio("consistent", "checked"),
        "tokens_per_s": ratio("tokens", "seconds"),
        "pairs_per_s": ratio("pairs", "seconds"),
    }
