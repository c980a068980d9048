"""Installs the `swanlab` -> swanlab_client alias at interpreter start (this folder is on PYTHONPATH).

`swanlabctl exec` puts this folder first on PYTHONPATH, so Python imports this file as its
`sitecustomize`, after the site-packages .pth files. A `sitecustomize` further down sys.path
(a distribution's or the user's) would be hidden by this one, so it is run here in its place.
"""

import importlib.machinery
import os
import sys


def _run_shadowed_sitecustomize() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    from importlib.util import module_from_spec

    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


try:
    import _swanlab_alias
except ImportError:
    # A Python without swanlabd (another venv, a system tool) started under exec: leave it alone.
    pass
else:
    _swanlab_alias.install_alias()
_run_shadowed_sitecustomize()
