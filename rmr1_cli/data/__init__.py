"""The data every stage reads and writes.

- ``records``: the record types (PreferencePair, PromptRecord, messages) and the one message check
- ``files``: rows of a JSONL, JSON, parquet or ``save_to_disk`` file, with file:line locations
- ``loading``: rows -> checked records (pairs, prompts, traces), errors naming file, row and field
- ``layouts``: other tools' row layouts (trl's, RM-R1's released sets, HH transcripts) -> records
- ``writing``: atomic JSONL/JSON/text writes and input hashes for run manifests
- ``store``: the append-only, crash-safe JSONL store behind every cache, and appends to JSONL logs
"""

from rmr1_cli.data.files import FORMATS, read_rows
from rmr1_cli.data.loading import (
    load_judge_prompts,
    load_pairs,
    load_prompts,
    load_sft_examples,
    load_trace_sources,
    load_traces,
)
from rmr1_cli.data.records import (
    ROLES,
    Conversation,
    Message,
    PreferencePair,
    PromptRecord,
    as_messages,
    check_messages,
    check_prompt,
    stable_id,
)
from rmr1_cli.data.store import JsonlStore, append_jsonl
from rmr1_cli.data.writing import file_sha256, write_json, write_jsonl, write_text

__all__ = [
    "FORMATS",
    "ROLES",
    "Conversation",
    "JsonlStore",
    "Message",
    "PreferencePair",
    "PromptRecord",
    "append_jsonl",
    "as_messages",
    "check_messages",
    "check_prompt",
    "file_sha256",
    "load_judge_prompts",
    "load_pairs",
    "load_prompts",
    "load_sft_examples",
    "load_trace_sources",
    "load_traces",
    "read_rows",
    "stable_id",
    "write_json",
    "write_jsonl",
    "write_text",
]
