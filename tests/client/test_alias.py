"""`swanlab_client.install_alias()` and the interpreter-start hook: `import swanlab` is swanlab_client.

Each case runs in a fresh interpreter: the alias changes a process's import state for good.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import _swanlab_alias


def run_python(code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_swanlab_and_its_submodules_are_swanlab_clients_own_module_objects():
    out = run_python("""
        import importlib, importlib.util, sys
        import swanlab_client
        swanlab_client.install_alias()
        import swanlab
        import swanlab.media.image
        from swanlab import echarts
        import swanlab.echarts as echarts_module
        assert swanlab is swanlab_client and swanlab.Image is swanlab_client.Image
        assert swanlab.media is swanlab_client.media and sys.modules["swanlab.media"] is swanlab_client.media
        assert swanlab.media.image is importlib.import_module("swanlab_client.media.image")
        # swanlab_client.echarts is the module swanlab_client.media.echarts, so swanlab.echarts is too
        assert echarts is echarts_module is swanlab_client.media.echarts is sys.modules["swanlab.echarts"]
        # the module keeps its own identity: pickle and multiprocessing read __spec__.name
        assert swanlab_client.__spec__.name == "swanlab_client" and swanlab_client.__name__ == "swanlab_client"
        assert swanlab.media.__spec__.name == "swanlab_client.media"
        print(swanlab.__version__ == swanlab_client.__version__)
    """)
    assert out.split() == ["True"]


def test_find_spec_and_metadata_answer_for_swanlab_before_it_is_imported():
    out = run_python("""
        import importlib.metadata, importlib.util, sys
        import swanlab_client
        swanlab_client.install_alias()
        spec = importlib.util.find_spec("swanlab")
        print(spec.name, spec.origin == swanlab_client.__file__, "swanlab" in sys.modules)
        print(importlib.metadata.version("swanlab"), importlib.metadata.metadata("swanlab")["Name"])
        print(importlib.util.find_spec("swanlab.media").name)
    """)
    version = _swanlab_alias.SWANLAB_API_VERSION
    assert out.split("\n")[:3] == ["swanlab True False", f"{version} swanlab", "swanlab.media"]


def test_a_submodule_swanlab_client_lacks_is_a_clear_module_not_found_error():
    out = run_python("""
        import swanlab_client
        swanlab_client.install_alias()
        try:
            import swanlab.no_such_part
        except ModuleNotFoundError as exc:
            print(exc.name)
            print(exc)
    """)
    name, message = out.strip().split("\n")
    assert name == "swanlab.no_such_part"
    assert message == (
        "No module named 'swanlab.no_such_part': swanlab is swanlab_client here (swanlabd), "
        "which has no swanlab_client.no_such_part"
    )


def test_install_alias_after_another_swanlab_was_imported_raises_alias_error():
    out = run_python("""
        import sys, types
        sys.modules["swanlab"] = types.ModuleType("swanlab")
        import swanlab_client
        try:
            swanlab_client.install_alias()
        except swanlab_client.AliasError as exc:
            print(isinstance(exc, RuntimeError), exc)
    """)
    assert out.startswith(
        "True swanlab is already imported from <module 'swanlab'>: call swanlab_client.install_alias() before"
    )


def test_install_alias_is_idempotent_and_puts_the_hook_on_pythonpath_once():
    out = run_python(
        """
        import os, sys, swanlab_client, _swanlab_alias
        swanlab_client.install_alias(); swanlab_client.install_alias()
        import swanlab
        swanlab_client.install_alias()  # swanlab is swanlab_client now: nothing to refuse
        print(sum(isinstance(f, _swanlab_alias.SwanlabAliasFinder) for f in sys.meta_path))
        print(os.environ["PYTHONPATH"])
        """,
        env={"PYTHONPATH": "/elsewhere"},
    )
    assert out.split("\n")[:2] == ["1", f"{_swanlab_alias.SITE_DIR}{os.pathsep}/elsewhere"]


def test_the_start_hook_installs_the_alias_without_importing_swanlab_client(tmp_path: Path):
    # A sitecustomize of the environment's own, further down the path, still runs.
    other = tmp_path / "other"
    other.mkdir()
    (other / "sitecustomize.py").write_text("import builtins\nbuiltins.OTHER_SITECUSTOMIZE_RAN = True\n")
    out = run_python(
        """
        import builtins, sys
        print("swanlab_client" in sys.modules, getattr(builtins, "OTHER_SITECUSTOMIZE_RAN", False))
        import swanlab, swanlab_client
        print(swanlab is swanlab_client)
        """,
        env={"PYTHONPATH": os.pathsep.join([_swanlab_alias.SITE_DIR, str(other)])},
    )
    assert out.split("\n")[:2] == ["False True", "True"]


CHILDREN = """
import multiprocessing as mp, subprocess, sys


def probe(queue):
    import swanlab
    queue.put(swanlab.__name__)


if __name__ == "__main__":
    import swanlab_client
    swanlab_client.install_alias()
    for method in ("spawn", "forkserver", "fork"):
        ctx = mp.get_context(method)
        queue = ctx.Queue()
        child = ctx.Process(target=probe, args=(queue,))
        child.start()
        print(method, queue.get(timeout=60))
        child.join()
    code = "import swanlab; print(swanlab.__name__)"
    print("subprocess", subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip())
"""


def test_spawn_forkserver_fork_and_subprocess_children_of_the_in_script_call_see_the_alias(tmp_path: Path):
    # install_alias() runs only under __main__: spawn children re-import this file as __mp_main__
    # and must get the alias from the environment they inherit, not by calling it again.
    script = tmp_path / "children.py"
    script.write_text(CHILDREN)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:4] == [
        "spawn swanlab_client",
        "forkserver swanlab_client",
        "fork swanlab_client",
        "subprocess swanlab_client",
    ]
