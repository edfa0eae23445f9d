"""Logging: everything to a rotating file in the logs dir; the terminal only with --debug."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log every URL they request (httpx: "HTTP Request: GET https://…?api_key=…").
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "aiohttp.access", "urllib3")
_QUERY = re.compile(r"""((?:\b[a-z][a-z0-9+.-]*://|\b(?:GET|POST|PUT|PATCH|DELETE|HEAD) /)"""
                    r"""[^\s?#"'<>]*)\?[^\s#"'<>]*""", re.IGNORECASE)


class RedactingFormatter(logging.Formatter):
    """Drops the query string of every URL in a line (tracebacks included): a query may
    carry a credential, whichever library or plugin logged it."""

    def format(self, record: logging.LogRecord) -> str:
        return _QUERY.sub(r"\1?***", super().format(record))


def setup_logging(log_dir: Path, debug: bool = False) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "kianax.log"
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(RedactingFormatter(FORMAT))
    root.addHandler(handler)
    if debug:
        console = logging.StreamHandler()
        console.setFormatter(RedactingFormatter(FORMAT))
        root.addHandler(console)
    return log_file
