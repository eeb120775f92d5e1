"""PEP 517 backend of the sluice package (see pyproject.toml): builds the
wheel with the standard library alone, so `pip install ./python` needs no
download.  SLUICE_LIBRARY=<build>/libsluice.so: take the extension CMake
built next to it, and that library; else compile the extension against the
libsluice that pkg-config finds."""
import base64
import hashlib
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

NAME, VERSION = "sluice", "0.1.0"
HERE = os.path.dirname(os.path.abspath(__file__))


def _tag():
    impl = "cp%d%d" % sys.version_info[:2]
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return impl, impl + sys.abiflags, plat


def _native_files(tmp):
    """[(path in wheel, file on disk)] of the extension (and library)."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    lib = os.environ.get("SLUICE_LIBRARY")
    if lib:
        d = os.path.dirname(os.path.abspath(lib))
        ext = os.path.join(d, "_sluice" + suffix)
        real = os.path.realpath(lib)
        if not os.path.exists(ext):
            raise RuntimeError("SLUICE_LIBRARY=%s: no %s next to it (build the project with "
                               "python3-dev installed, for %s)" % (lib, "_sluice" + suffix, sys.executable))
        # the extension asks for the library by its soname (libsluice.so.0)
        soname = "libsluice.so.0"
        return [("sluice/_sluice" + suffix, ext), ("sluice/" + soname, real)]
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "sluice"], check=True,
                               capture_output=True, text=True).stdout.split()
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "sluice"], check=True,
                                capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise RuntimeError("sluice: neither SLUICE_LIBRARY=<build>/libsluice.so is set nor an "
                           "installed libsluice found by pkg-config (cmake --install build); "
                           "one of them is needed to build the extension")
    out = os.path.join(tmp, "_sluice" + suffix)
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    cmd = cc + ["-shared", "-fPIC", "-O2", "-std=gnu11", "-I" + sysconfig.get_paths()["include"],
                os.path.join(HERE, "src", "module.c"), os.path.join(HERE, "src", "codec.c"),
                "-o", out, "-Wl,-rpath," + libdir, "-lpthread"] + flags
    subprocess.run(cmd, check=True)
    return [("sluice/_sluice" + suffix, out)]


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    impl, abi, plat = _tag()
    wheel_name = "%s-%s-%s-%s-%s.whl" % (NAME, VERSION, impl, abi, plat)
    dist_info = "%s-%s.dist-info" % (NAME, VERSION)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for pkg in ("sluice", "flink"):
            for root, dirs, names in os.walk(os.path.join(HERE, pkg)):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                for n in sorted(names):
                    if n.endswith(".py"):
                        p = os.path.join(root, n)
                        files.append((os.path.relpath(p, HERE), p))
        files += _native_files(tmp)
        records = []
        path = os.path.join(wheel_directory, wheel_name)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for arc, src in files:
                with open(src, "rb") as f:
                    data = f.read()
                info = zipfile.ZipInfo(arc)
                info.external_attr = (0o755 if arc.endswith(".so") or ".so." in arc else 0o644) << 16
                z.writestr(info, data, zipfile.ZIP_DEFLATED)
                records.append(_record_line(arc, data))
            meta = {
                dist_info + "/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: "
                "PyFlink's DataStream API over libsluice\n" % (NAME, VERSION),
                dist_info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: sluice _build_backend\n"
                "Root-Is-Purelib: false\nTag: %s-%s-%s\n" % (impl, abi, plat),
                dist_info + "/top_level.txt": "flink\nsluice\n",
            }
            for arc, text in meta.items():
                z.writestr(arc, text)
                records.append(_record_line(arc, text.encode()))
            records.append(dist_info + "/RECORD,,")
            z.writestr(dist_info + "/RECORD", "\n".join(records) + "\n")
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("sluice: no sdist; install from the source tree: pip install ./python")
