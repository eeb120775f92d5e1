"""Loads _sluice, the C extension over libsluice.

From a build tree: SLUICE_LIBRARY=<build>/libsluice.so, and _sluice is the
module CMake built next to that library (for the interpreter CMake found:
the same ABI as this one, or the load fails with a message saying so).
Without SLUICE_LIBRARY: the _sluice installed inside this package by
``pip install ./python``.
"""
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig


def _load():
    lib = os.environ.get("SLUICE_LIBRARY")
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    if lib:
        d = os.path.dirname(os.path.abspath(lib))
        path = os.path.join(d, "_sluice" + suffix)
        if not os.path.exists(path):
            raise ImportError(
                "SLUICE_LIBRARY=%s: there is no %s next to it. Build it with the project "
                "(cmake finds Python's headers: install python3-dev) for this interpreter "
                "(%s, %s), or configure with -DPython3_EXECUTABLE=%s"
                % (lib, "_sluice" + suffix, sys.executable, sys.version.split()[0],
                   sys.executable))
        loader = importlib.machinery.ExtensionFileLoader("sluice._sluice", path)
        spec = importlib.util.spec_from_file_location("sluice._sluice", path, loader=loader)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules["sluice._sluice"] = mod
        return mod
    try:
        from sluice import _sluice  # installed with the package
        return _sluice
    except ImportError as e:
        raise ImportError(
            "sluice: cannot load the native module _sluice (%s). From a build tree set "
            "SLUICE_LIBRARY=<build>/libsluice.so (and PYTHONPATH=<source>/python); or install "
            "the package with `pip install ./python` after installing libsluice" % e) from e


native = _load()
