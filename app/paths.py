"""Where Kianax keeps its files: platformdirs locations, or everything under ``KIANAX_HOME``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "Kianax"


@dataclass(frozen=True, slots=True)
class Paths:
    data: Path
    config: Path
    logs: Path

    @property
    def store(self) -> Path:
        return self.data / "kianax.db"

    @property
    def engine(self) -> Path:
        return self.data / "engine"

    @property
    def plugins(self) -> Path:
        return self.data / "plugins"

    @property
    def settings(self) -> Path:
        return self.config / "settings.json"

    def ensure(self) -> Paths:
        for folder in (self.data, self.config, self.logs, self.engine):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def default_paths() -> Paths:
    """``KIANAX_HOME`` wins (tests, portable installs); otherwise the OS conventions."""
    home = os.environ.get("KIANAX_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(data=root / "data", config=root / "config", logs=root / "logs")
    return Paths(
        data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        logs=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
