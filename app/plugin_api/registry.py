"""Finding plugins: the built-ins, the ``kianax.plugins`` entry points, the user's folder."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path

from app.plugin_api import Plugin

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "kianax.plugins"
BUILTIN_MODULES: tuple[str, ...] = (
    "plugins.core",
    "plugins.http",
    "plugins.llm",
    "plugins.notify",
    "plugins.shell",
    "plugins.code",
    "plugins.files",
    "plugins.email",
)
"""The built-in plugin families, one module each (each defines ``PLUGINS``)."""


class PluginRegistry:
    """Plugins by id. Later registrations of an id already taken are refused and logged."""

    def __init__(self, plugins: Iterable[Plugin] = ()):
        self._plugins: dict[str, Plugin] = {}
        self.load_errors: list[str] = []
        self.add_all(plugins, origin="argument")

    def add_all(self, plugins: Iterable[Plugin], origin: str) -> None:
        for plugin in plugins:
            if not isinstance(plugin, Plugin):
                self.load_errors.append(f"{origin}: {plugin!r} is not a Plugin")
            elif plugin.id in self._plugins:
                self.load_errors.append(f"{origin}: plugin id {plugin.id!r} is already taken")
            else:
                self._plugins[plugin.id] = plugin

    def get(self, plugin_id: str) -> Plugin | None:
        return self._plugins.get(plugin_id)

    def __getitem__(self, plugin_id: str) -> Plugin:
        return self._plugins[plugin_id]

    def __contains__(self, plugin_id: object) -> bool:
        return plugin_id in self._plugins

    def __iter__(self) -> Iterator[Plugin]:
        return iter(self._plugins.values())


def builtin_plugins() -> list[Plugin]:
    return [plugin for name in BUILTIN_MODULES
            for plugin in importlib.import_module(name).PLUGINS]


def discover(plugin_dir: Path | None = None) -> PluginRegistry:
    """Built-ins first, then installed entry points, then ``*.py`` files in ``plugin_dir``.

    A plugin that fails to load is reported in ``load_errors`` instead of stopping Kianax.
    """
    registry = PluginRegistry(builtin_plugins())
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.module in BUILTIN_MODULES:
            continue
        try:
            registry.add_all(ep.load(), origin=f"entry point {ep.name}")
        except Exception as exc:
            registry.load_errors.append(f"entry point {ep.name}: {exc}")
    if plugin_dir is not None and plugin_dir.is_dir():
        for path in sorted(plugin_dir.glob("*.py")):
            try:
                registry.add_all(_load_file(path), origin=str(path))
            except Exception as exc:
                registry.load_errors.append(f"{path}: {exc}")
    for error in registry.load_errors:
        log.warning("plugin not loaded: %s", error)
    return registry


def _load_file(path: Path) -> list[Plugin]:
    spec = importlib.util.spec_from_file_location(f"kianax_user_plugin_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugins = getattr(module, "PLUGINS", None)
    if plugins is None:
        raise ImportError("defines no PLUGINS list")
    return list(plugins)
