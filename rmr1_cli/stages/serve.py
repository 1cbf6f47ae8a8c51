"""``rmr1 serve``: a judge over HTTP (OpenAI chat completions + ``/judge``) until SIGINT or SIGTERM.

The server itself is ``judging/server.py``; this stage starts it and stops it cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading

from rmr1_cli.config import ServeRecipe
from rmr1_cli.judging.server import build_server

log = logging.getLogger(__name__)


METRICS: tuple[str, ...] = ()  # a server writes no metrics.json


def run(recipe: ServeRecipe) -> None:
    """Serve until SIGINT or SIGTERM; prints the URL on stdout once the model is loaded."""
    server = build_server(recipe)

    def stop(signum, frame):  # shutdown() waits for serve_forever, so it runs in another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    log.info("serving %s at %s (POST /v1/chat/completions, POST /judge)", server.model_name, server.url)
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.generator.close()
        log.info("stopped")
    return None
