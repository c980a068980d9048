"""Route `import swanlab` to swanlab_client, so code written for the official SDK logs through swanlabd.

    import swanlab_client
    swanlab_client.install_alias()      # before anything imports swanlab
    import swanlab                      # swanlab_client itself: swanlab.Image is swanlab_client.Image

`install_alias()` puts a finder first on `sys.meta_path`. It maps `swanlab` to `swanlab_client`
and `swanlab.X.Y` to `swanlab_client.X.Y` (or to a module that `swanlab_client.X` holds under
the name Y, as `swanlab_client.echarts` is `swanlab_client.media.echarts`), handing back the very
module objects. A name swanlab_client lacks raises ModuleNotFoundError naming swanlabd.
`importlib.util.find_spec("swanlab")` finds it, and `importlib.metadata` answers for a
distribution `swanlab` at SWANLAB_API_VERSION (accelerate's `is_swanlab_available()` asks
for its metadata), ahead of the official SDK if that is installed too.

This package is separate from swanlab_client, stdlib-only and cheap to import, because
`site/sitecustomize.py` imports it at the start of every Python process under `swanlabctl exec`
(`SITE_DIR` is on their PYTHONPATH): swanlab_client itself (about 80 ms, and an at-fork hook)
is imported only when something imports swanlab. `install_alias()` also puts `SITE_DIR` on
PYTHONPATH, so the processes this one starts (spawn, forkserver, subprocess) get the alias too.
See docs/integrations.md, "Routing `import swanlab` to swanlabd".
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
from types import ModuleType

# typing and collections.abc are not imported at run time either: a few ms more per process.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import importlib.metadata
    from collections.abc import Iterator, Sequence
    from importlib.abc import Loader as _LoaderBase
else:
    _LoaderBase = object

ALIAS = "swanlab"
TARGET = "swanlab_client"
SWANLAB_API_VERSION = "0.10.3"
"""The official SDK release whose API swanlab_client follows, and the version importlib.metadata gives."""
SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "site")
"""The directory whose sitecustomize.py installs the alias at interpreter start, when on PYTHONPATH."""


class AliasError(RuntimeError):
    """install_alias() came too late: another `swanlab` is already imported."""


def install_alias() -> None:
    """Make `import swanlab` in this process, and in the Python processes it starts, swanlab_client.

    Idempotent. Raises AliasError if a `swanlab` other than swanlab_client is already imported.
    """
    loaded = sys.modules.get(ALIAS)
    if loaded is not None and loaded is not sys.modules.get(TARGET):
        raise AliasError(
            f"swanlab is already imported from {getattr(loaded, '__file__', None) or loaded!r}: "
            "call swanlab_client.install_alias() before anything imports swanlab, or run under `swanlabctl exec`"
        )
    if not any(isinstance(finder, SwanlabAliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, SwanlabAliasFinder())
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if SITE_DIR not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([SITE_DIR, *filter(None, paths)])


class SwanlabAliasFinder:
    """Finds `swanlab` and `swanlab.*` as swanlab_client's modules, and `swanlab`'s metadata.

    A MetaPathFinder by protocol, not by base class: importlib.abc and importlib.metadata cost
    about 25 ms to import, paid by every process under exec; metadata is imported when asked for.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        # Imported here, past the name check (this finder sees its import too), not at the top:
        # it brings contextlib and more, paid at every start under exec.
        from importlib.util import find_spec

        if fullname == ALIAS:
            # A top-level name: find_spec locates swanlab_client without importing it.
            real = find_spec(TARGET)
            if real is None:
                raise ModuleNotFoundError(
                    f"swanlab is routed to swanlab_client (swanlabd), which {sys.executable} cannot import: "
                    "install swanlabd in this environment",
                    name=fullname,
                )
            return _alias_spec(fullname, TARGET, real)
        parent_name, _, child = fullname.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is None:  # the import system always imports the parent first; a direct call may not
            return None
        real_name = f"{parent.__name__}.{child}"
        real = find_spec(real_name) if hasattr(parent, "__path__") else None
        if real is not None:
            return _alias_spec(fullname, real_name, real)
        held = getattr(parent, child, None)
        if isinstance(held, ModuleType) and held.__spec__ is not None:
            return _alias_spec(fullname, held, held.__spec__)
        raise ModuleNotFoundError(
            f"No module named {fullname!r}: swanlab is swanlab_client here (swanlabd), which has no {real_name}",
            name=fullname,
        )

    def find_distributions(
        self, context: importlib.metadata.DistributionFinder.Context | None = None
    ) -> Iterator[importlib.metadata.Distribution]:
        import re

        name = getattr(context, "name", None)
        # PEP 503 normalisation, as importlib.metadata does it: "SwanLab" and "swan_lab" are not "swanlab".
        if name is None or re.sub(r"[-_.]+", "-", name).lower() == ALIAS:
            yield _alias_distribution()


def _alias_distribution() -> importlib.metadata.Distribution:
    """The metadata of `swanlab` under the alias: its name, SWANLAB_API_VERSION, its top-level module."""
    import importlib.metadata
    from pathlib import Path

    class AliasDistribution(importlib.metadata.Distribution):
        def read_text(self, filename: str) -> str | None:
            if filename == "METADATA":
                return (
                    f"Metadata-Version: 2.1\nName: {ALIAS}\nVersion: {SWANLAB_API_VERSION}\n"
                    "Summary: swanlab_client (swanlabd) imported as swanlab\n"
                )
            if filename == "top_level.txt":
                return ALIAS + "\n"
            return None

        def locate_file(self, path: str | os.PathLike[str]) -> Path:
            return Path(__file__).resolve().parent / path

    return AliasDistribution()


class _AliasLoader(_LoaderBase):
    """Hands the import system the target module itself instead of making a new one."""

    def __init__(self, target: str | ModuleType) -> None:
        self._target = target
        self._real_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self._target) if isinstance(self._target, str) else self._target
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # module_from_spec() has set __spec__ to the alias's spec: give the module its own back, so
        # swanlab_client.__spec__.name stays "swanlab_client" (pickle, multiprocessing and reload read it).
        module.__spec__ = self._real_spec


def _alias_spec(
    name: str, target: str | ModuleType, real: importlib.machinery.ModuleSpec
) -> importlib.machinery.ModuleSpec:
    spec = importlib.machinery.ModuleSpec(
        name, _AliasLoader(target), origin=real.origin, is_package=real.submodule_search_locations is not None
    )
    if real.submodule_search_locations is not None:
        spec.submodule_search_locations = list(real.submodule_search_locations)
    return spec
