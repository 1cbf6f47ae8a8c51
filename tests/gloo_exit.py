"""The exit of a script run under torchrun / accelerate launch over gloo (tests/ddp_recipes.py,
tests/fsdp2_heldout.py)."""

from __future__ import annotations

import os
import sys


def exit_skipping_gloo_teardown(code: int) -> None:
    """Exit with ``code`` once the output is flushed. gloo's threads sometimes abort ("terminate called
    without an active exception") in the C++ teardown at interpreter exit, after the work is done and
    written; ``os._exit`` skips that teardown."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
