"""Entry point of the frozen app: the same `kianax` command as the pip install."""

from app.cli import run

run()
