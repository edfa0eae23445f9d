"""Finding plugins: the built-ins, the ``kianax.plugins`` entry points, the user's folder."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from app.plugin_api import PLUGIN_API_VERSION, Plugin

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


PLUGIN_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a plugin came from: ``built-in``, ``package <distribution>`` or ``file <path>``."""

    kind: str  # "built-in" | "package" | "file"
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}" if self.detail else self.kind

    @property
    def third_party(self) -> bool:
        """Code Kianax does not ship: held to the SDK's rules when it loads."""
        return self.kind in ("package", "file")


BUILT_IN = Origin("built-in")


class PluginRegistry:
    """Plugins by id, each with its origin. A plugin that cannot be honoured is refused, with
    the reason in ``load_errors`` ("<origin>: <sentence>"), instead of failing at run time."""

    def __init__(self, plugins: Iterable[Plugin] = ()):
        self._plugins: dict[str, Plugin] = {}
        self._origins: dict[str, Origin] = {}
        self.load_errors: list[str] = []
        self.add_all(plugins, origin=BUILT_IN)

    def add_all(self, plugins: Iterable[Plugin], origin: Origin | str) -> None:
        """Add ``plugins``; a third-party origin (a package or a file) is checked first."""
        if isinstance(origin, str):  # a caller's own label (tests, embedders): trusted code
            origin = Origin("built-in", origin)
        for plugin in plugins:
            problem = self._refusal(plugin, origin)
            if problem:
                self.load_errors.append(f"{origin}: {problem}")
            else:
                self._plugins[plugin.id] = plugin
                self._origins[plugin.id] = origin

    def _refusal(self, plugin: object, origin: Origin) -> str | None:
        """Why ``plugin`` cannot be loaded from ``origin``, as one sentence; None when it can."""
        if not isinstance(plugin, Plugin):
            return f"{plugin!r} is not a Plugin (build it with app.plugin_api.Plugin)"
        if plugin.id in self._plugins:
            owner = self._origins[plugin.id]
            return (f"plugin id {plugin.id!r} is already taken by a built-in plugin; choose "
                    "your own prefix" if owner.kind == "built-in" else
                    f"plugin id {plugin.id!r} is already taken by {owner}")
        if not origin.third_party:
            return None
        if not PLUGIN_ID.match(plugin.id):
            return (f"plugin id {plugin.id!r} is not valid: use lower-case dotted words such "
                    "as 'acme.send_invoice' (letters, digits, _; at least one dot)")
        if plugin.runs_in == "workflow":
            return (f"plugin {plugin.id} declares runs_in='workflow', which only Kianax's own "
                    "plugins may (a worker's workflow sandbox cannot import your code); make "
                    "it runs_in='activity' with an async execute(ctx, input, config)")
        if plugin.runs_in != "activity":
            return f"plugin {plugin.id} has runs_in={plugin.runs_in!r}; use 'activity'"
        if not callable(plugin.execute):
            return (f"plugin {plugin.id} runs as an activity but has no execute; give it "
                    "execute=async def execute(ctx, input, config)")
        return _schema_problem(plugin)

    def origin(self, plugin_id: str) -> Origin:
        return self._origins[plugin_id]

    def get(self, plugin_id: str) -> Plugin | None:
        return self._plugins.get(plugin_id)

    def __getitem__(self, plugin_id: str) -> Plugin:
        return self._plugins[plugin_id]

    def __contains__(self, plugin_id: object) -> bool:
        return plugin_id in self._plugins

    def __iter__(self) -> Iterator[Plugin]:
        return iter(self._plugins.values())


def _schema_problem(plugin: Plugin) -> str | None:
    """jsonschema (loaded only here, for third-party plugins) must accept the config schema."""
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError

    schema = plugin.config_schema
    if not isinstance(schema, Mapping):
        return f"plugin {plugin.id}'s config_schema is not a JSON object"
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "its top level"
        return (f"plugin {plugin.id}'s config_schema is not a valid JSON schema at {where}: "
                f"{exc.message}")
    return None


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
        origin = Origin("package", ep.dist.name if ep.dist is not None else ep.value)
        try:
            module = importlib.import_module(ep.module)
            registry.add_all(_exported(module, ep.attr), origin)
        except Exception as exc:
            registry.load_errors.append(f"{origin}: entry point {ep.name}: {_sentence(exc)}")
    if plugin_dir is not None and plugin_dir.is_dir():
        for path in sorted(plugin_dir.glob("*.py")):
            try:
                registry.add_all(_load_file(path), Origin("file", str(path)))
            except Exception as exc:
                registry.load_errors.append(f"file {path}: {_sentence(exc)}")
    for error in registry.load_errors:
        log.warning("plugin not loaded: %s", error)
    return registry


def _exported(module: ModuleType, attr: str | None = None) -> list[Plugin]:
    """The module's plugins (``attr``, default ``PLUGINS``), once its API version is checked."""
    declared = getattr(module, "KIANAX_PLUGIN_API", PLUGIN_API_VERSION)
    if declared != PLUGIN_API_VERSION:
        raise ImportError(f"it is written for Kianax plugin API {declared!r}, and this Kianax "
                          f"speaks API {PLUGIN_API_VERSION}; install a version of it made for "
                          f"API {PLUGIN_API_VERSION}")
    plugins = getattr(module, attr or "PLUGINS", None)
    if plugins is None:
        raise ImportError(f"{module.__name__} defines no {attr or 'PLUGINS'} list")
    if isinstance(plugins, Plugin) or not isinstance(plugins, Iterable):
        raise ImportError(f"{attr or 'PLUGINS'} must be a list of Plugin")
    return list(plugins)


def _load_file(path: Path) -> list[Plugin]:
    spec = importlib.util.spec_from_file_location(f"kianax_user_plugin_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return _exported(module)


def _sentence(exc: BaseException) -> str:
    """An import failure as one line: its type when the message alone would be unclear."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, ImportError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
