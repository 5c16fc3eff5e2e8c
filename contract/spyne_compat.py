"""Make spyne 2.14 (as released on the package index) import on Python 3.12 and 3.13.

spyne vendors an old copy of ``six`` as ``spyne.util.six``. Its meta path importer,
which serves ``spyne.util.six.moves``, only implements the ``find_module``/``load_module``
protocol that Python 3.12 stopped calling, so ``import spyne`` fails with
``No module named 'spyne.util.six.moves'`` (and on 3.11 every import that passes the importer
raises an ``ImportWarning``, an error under ``-W error``). On Python 3.13 the ``cgi`` module spyne
uses is gone from the standard library; the ``legacy-cgi`` distribution (a
dependency on 3.13 only) puts it back under the same name.

:func:`apply` installs a one-shot finder that lets the vendored ``six`` load
normally and then gives its importer class the modern ``find_spec`` protocol (the
same three methods six 1.16 added upstream). It must run before anything imports
spyne: :mod:`contract.services86`, which does, calls it first. It is idempotent, and patches
the importer in place when spyne's six is already loaded.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_SIX = "spyne.util.six"


def _add_find_spec(importer_class: type) -> None:
    if "find_spec" in vars(importer_class):
        return

    def find_spec(
        self: Any, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in self.known_modules:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self: Any, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module: ModuleType = self.load_module(spec.name)
        return module

    def exec_module(self: Any, module: ModuleType) -> None:
        return None

    importer_class.find_spec = find_spec  # type: ignore[attr-defined]
    importer_class.create_module = create_module  # type: ignore[attr-defined]
    importer_class.exec_module = exec_module  # type: ignore[attr-defined]


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        importer_class = getattr(module, "_SixMetaPathImporter", None)
        if importer_class is not None:
            _add_find_spec(importer_class)


class _VendoredSixFinder(importlib.abc.MetaPathFinder):
    """Finds ``spyne.util.six`` the normal way and wraps its loader."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _SIX:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec


def apply() -> None:
    """Prepare the interpreter for ``import spyne``; safe to call more than once."""
    loaded = sys.modules.get(_SIX)
    if loaded is not None:
        importer_class = getattr(loaded, "_SixMetaPathImporter", None)
        if importer_class is not None:
            _add_find_spec(importer_class)
        return
    if not any(isinstance(finder, _VendoredSixFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _VendoredSixFinder())
