"""Load on ``rmr1 serve``: many clients at once against one server on 127.0.0.1.

A tiny model rewired to always write a verdict (``training/tiny.py``, ``build_scripted_model``) is
served by ``rmr1 serve`` in a subprocess (port 0, a bearer token). ``--clients`` threads start
together, each sending ``--requests`` POST /judge requests (one pair, both orders) on its own
connection. Everything is bounded: a per-request timeout, an overall deadline (``--deadline-s``), and
the server is stopped at the end whatever happened. Traffic goes to 127.0.0.1 only.

It prints a table (stderr) and one JSON line (stdout):

    {"clients": 200, "requests": 200, "ok": 200, "success_rate": 1.0, "p50_s": 0.8, "p99_s": 1.9, ...}

Run from the repository root: ``.venv/bin/python bench/serve_load.py``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "serve-load-token"
PAIR = {"prompt": "What is 2+3?", "chosen": "2+3 = 5.", "rejected": "2+3 = 6."}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1, help="requests per client")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="per request")
    parser.add_argument("--deadline-s", type=float, default=300.0, help="for the whole load")
    parser.add_argument("--model", type=Path, default=None, help="a served model folder (default: built)")
    return parser.parse_args()


def build_model(folder: Path) -> Path:
    from rmr1_cli.training.tiny import build_scripted_model, build_tiny_model

    tiny = build_tiny_model(folder / "tiny", corpus_files=sorted((ROOT / "data" / "samples").glob("*.jsonl")))
    return build_scripted_model(tiny, folder / "judge", "<type>Chat</type><answer>[[A]]</answer> A wins")


def start_server(model: Path, log: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "RMR1_SERVE_LOAD_TOKEN": TOKEN, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "rmr1_cli", "serve", f"judge.model.name_or_path={model}", "host=127.0.0.1",
        "port=0", "api_key_env=RMR1_SERVE_LOAD_TOKEN", "judge.generation.max_new_tokens=24",
        "judge.generation.batch_size=32", "batch_wait_ms=20",
    ]  # fmt: skip
    with open(log, "w") as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"rmr1 serve did not start:\n{log.read_text()[-2000:]}")
    return proc, url


def client(port: int, args, gate: threading.Barrier, deadline: float, out: list) -> None:
    body = json.dumps({"pairs": [PAIR], "include_text": False}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    gate.wait()
    for _ in range(args.requests):
        if time.monotonic() > deadline:
            out.append(("deadline", None))
            continue
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=args.timeout_s)
            conn.request("POST", "/judge", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            out.append((str(response.status), time.perf_counter() - started))
        except OSError as exc:  # reset, refused, timed out
            out.append((type(exc).__name__, time.perf_counter() - started))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build_model(Path(tmp))
        proc, url = start_server(model, Path(tmp) / "serve.log")
        port = int(url.rsplit(":", 1)[1])
        results: list = []
        try:
            gate = threading.Barrier(args.clients)
            deadline = time.monotonic() + args.deadline_s
            threads = [
                threading.Thread(target=client, args=(port, args, gate, deadline, results), daemon=True)
                for _ in range(args.clients)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()) + args.timeout_s)
            wall = time.perf_counter() - started
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    total = args.clients * args.requests
    outcomes = Counter(status for status, _ in results)
    latencies = [s for status, s in results if status == "200"]
    summary = {
        "clients": args.clients,
        "requests": total,
        "ok": outcomes.get("200", 0),
        "success_rate": round(outcomes.get("200", 0) / total, 4),
        "outcomes": dict(outcomes),
        "p50_s": _round(percentile(latencies, 0.50)),
        "p99_s": _round(percentile(latencies, 0.99)),
        "max_s": _round(max(latencies, default=None)),
        "mean_s": _round(statistics.fmean(latencies) if latencies else None),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 1) if wall else None,
    }
    width = max(len(k) for k in summary)
    print("rmr1 serve under load (POST /judge, one pair, 127.0.0.1)", file=sys.stderr)
    for key, value in summary.items():
        print(f"  {key:<{width}}  {value}", file=sys.stderr)
    print(json.dumps(summary))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


if __name__ == "__main__":
    main()
