"""Logging: everything to a rotating file in the logs dir; the terminal only with --debug."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

from app.paths import open_private, private_dir, private_file

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


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are 0600 on POSIX whatever the umask (rotation renames,
    so the older files keep the mode)."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = open_private(Path(self.baseFilename), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(log_dir: Path, debug: bool = False) -> Path:
    private_dir(log_dir)
    log_file = log_dir / "kianax.log"
    for old in log_dir.glob("kianax.log*"):
        private_file(old)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    handler = PrivateRotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3,
                                         encoding="utf-8")
    handler.setFormatter(RedactingFormatter(FORMAT))
    root.addHandler(handler)
    if debug:
        console = logging.StreamHandler()
        console.setFormatter(RedactingFormatter(FORMAT))
        root.addHandler(console)
    return log_file
