"""Registries of the things users add: formats, target types, distillation methods, tasks, data sources,
distillation schemes.

Each registry holds plug-ins of one contract, by name. Built-in plug-ins are modules that register themselves
when imported; the registry imports them the first time it is asked (as entry points would), so this module
names them without importing them and the layers below stay free of the layers above. A user's plug-in is a
module or a .py file named in the recipe's `plugins:` list or in EDGESHIP_PLUGINS, imported at start-up.
A plug-in that cannot register (a name taken, a missing part of its contract, an import error) is refused
with one line naming it.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Generic, Iterable, TypeVar

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError, one_line

T = TypeVar("T")
ENV_VAR = "EDGESHIP_PLUGINS"


class PluginError(EdgeshipError):
    """A plug-in that cannot register: one line, exit 2, before any work starts."""


class Registry(Generic[T]):
    def __init__(self, kind: str, contract: tuple[str, ...], builtins: tuple[str, ...]):
        self.kind = kind                # "format", "target type", ...: how errors name it
        self.contract = contract        # attributes every plug-in of this kind must have
        self.builtins = builtins        # modules that register the built-in plug-ins
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._loading = False
        self._loaded = False

    def register(self, plugin: T) -> T:
        """Add a plug-in (usable as a class decorator). Its module is where the error messages point."""
        self._ensure_builtins()  # built-ins first, so their names come first and a plug-in cannot take them
        name = getattr(plugin, "name", None)
        origin = _registering_module()
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.kind} plug-in {_label(plugin)} from {origin}: has no 'name'")
        missing = [part for part in self.contract if getattr(plugin, part, None) is None]
        if missing:
            raise PluginError(f"{self.kind} plug-in {name!r} from {origin}: missing {', '.join(missing)} "
                              f"(a {self.kind} needs {', '.join(self.contract)})")
        if name in self._items and self._origin[name] != origin:  # the same module again is a re-import
            raise PluginError(f"{self.kind} plug-in {name!r} from {origin}: the name is already taken by "
                              f"{self._origin[name]}")
        self._items[name] = plugin
        self._origin[name] = origin
        return plugin

    def _ensure_builtins(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            for module in self.builtins:
                importlib.import_module(module)
        finally:
            self._loading = False
        self._loaded = True

    def names(self) -> list[str]:
        return [name for name, _ in self.items()]

    def get(self, name: str, field: str | None = None) -> T:
        self._ensure_builtins()
        if name not in self._items:
            where = f"{field}: " if field else ""
            raise EdgeshipError(f"{where}unknown {self.kind} {name!r} (registered: {', '.join(self.names())})")
        return self._items[name]

    def items(self) -> list[tuple[str, T]]:
        """Built-ins first, in the order of `builtins`, then plug-ins in the order they registered."""
        self._ensure_builtins()
        order = {name: i for i, name in enumerate(self._items)}
        return sorted(self._items.items(), key=lambda item: (self._rank(self._origin[item[0]]), order[item[0]]))

    def builtin_names(self) -> list[str]:
        """What edgeship itself brings: the recipe's defaults (a plug-in is used where a recipe names it)."""
        return [name for name, _ in self.items() if self._rank(self._origin[name]) < len(self.builtins)]

    def _rank(self, origin: str) -> int:
        return next((i for i, module in enumerate(self.builtins)
                     if origin == module or origin.startswith(module + ".")), len(self.builtins))

    def unregister(self, name: str) -> None:
        """Tests register toy plug-ins; they take them out again."""
        self._items.pop(name, None)
        self._origin.pop(name, None)


def _label(plugin) -> str:
    return getattr(plugin, "__qualname__", None) or type(plugin).__qualname__


def _registering_module() -> str:
    """The module whose code called register (the first frame outside edgeship.pipeline.core): the plug-in's home."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("edgeship.pipeline.core"):
            return module
        frame = frame.f_back
    return "unknown"


FORMATS: Registry = Registry("format", ("name", "suffix", "runner", "packages", "export", "quantize", "layers",
                                        "quantized_ops", "float_layers"),
                             ("edgeship.pipeline.formats.onnx", "edgeship.pipeline.formats.tflite",
                              "edgeship.pipeline.formats.openvino"))
TARGET_TYPES: Registry = Registry("target type", ("name", "config", "make", "runs_torch", "interleaved_timing"),
                                  ("edgeship.targets.local", "edgeship.targets.ssh", "edgeship.targets.docker",
                                   "edgeship.targets.qemu"))
METHODS: Registry = Registry("distillation method", ("name", "display", "default_beta", "loss"),
                             ("edgeship.pipeline.distillation.methods",))
TASKS: Registry = Registry("task", ("name", "metric", "loss", "predict_labels", "meter"),
                          ("edgeship.pipeline.tasks.classification", "edgeship.pipeline.tasks.segmentation",
                           "edgeship.pipeline.tasks.detection"))
DATA_SOURCES: Registry = Registry("data source", ("name", "targets", "load", "usage"),
                                 ("edgeship.pipeline.data.sources", "edgeship.pipeline.data.objects",
                                  "edgeship.pipeline.data.box_layouts"))
SCHEMES: Registry = Registry("distillation scheme", ("name", "train", "describe"),
                            ("edgeship.pipeline.stages.schemes",))


def agent_extension_files() -> list[Path]:
    """The modules that plug-ins add to the device agent (a format's `agent_module`: its runner; a task's: its
    metric), in registry order: they travel inside the agent's zipapp."""
    files = []
    for registry in (FORMATS, TASKS):
        for _, plugin in registry.items():
            module = getattr(plugin, "agent_module", None)
            if module and Path(module) not in files:
                files.append(Path(module))
    return files


def load_plugins(specs: Iterable[str]) -> list[str]:
    """Import each plug-in (a module name, or a path to a .py file) and the EDGESHIP_PLUGINS ones; the modules
    loaded. Any failure is one PluginError naming the plug-in."""
    from_env = [s for s in os.environ.get(ENV_VAR, "").split(",") if s.strip()]
    loaded = []
    for spec in [*from_env, *specs]:
        spec = spec.strip()
        try:
            loaded.append(_import(spec))
        except PluginError as err:
            raise PluginError(f"plug-in {spec}: {err}") from None
        except Exception as err:  # whatever the plug-in's own code raised while importing
            first = one_line(err, 300)
            raise PluginError(f"plug-in {spec}: cannot import it ({first})") from None
    return loaded


def _import(spec: str) -> str:
    if spec.endswith(".py"):
        path = Path(spec).resolve()
        if not path.is_file():
            raise PluginError("file not found")
        name = f"edgeship_plugin_{path.stem}_{abs(hash(str(path))) % 10**8}"
        if name not in sys.modules:
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            try:
                module_spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
        return name
    importlib.import_module(spec)
    return spec
