"""Installing the Python packages the tools/ scripts need, on demand.

Shared by the tools/ scripts (`need`); make_gpt_fixture.py and bench_torch.py also prefer a local CPU-only torch wheel (pip find-links)
over PyPI's default torch, which pulls several GB of CUDA libraries.
"""

import glob
import importlib
import os
import subprocess
import sys
import time


def _pip_install(args):
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"] + args
    print("+ " + " ".join(cmd), flush=True)
    t0 = time.time()
    subprocess.check_call(cmd)
    print(f"  pip install took {time.time() - t0:.1f}s", flush=True)


def need(mod, pkg=None):
    """Imports module `mod`, first installing PyPI package `pkg` (default: the same name) if it is missing."""
    try:
        return importlib.import_module(mod)
    except ImportError:
        _pip_install([pkg or mod])
        return importlib.import_module(mod)


def _local_cpu_torch_wheels():
    """CPU-only torch wheels in local wheel folders (pip find-links), if any.

    A CPU wheel is ~190 MB; the default PyPI torch pulls several GB of CUDA
    libraries we do not need, so prefer a local CPU wheel when one exists."""
    dirs = []
    env = os.environ.get("PIP_FIND_LINKS", "")
    dirs += [d for d in env.split() if os.path.isdir(d)]
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                             capture_output=True, text=True, timeout=60).stdout
        for line in out.splitlines():
            if "find-links" in line and "=" in line:
                val = line.split("=", 1)[1].strip().strip("'\"")
                dirs += [d for d in val.split() if os.path.isdir(d)]
    except Exception:
        pass
    dirs.append("/opt/wheels")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    wheels = []
    for d in dict.fromkeys(dirs):
        wheels += glob.glob(os.path.join(d, f"torch-*+cpu-{tag}-*.whl"))
    return sorted(wheels)


def ensure_torch():
    """Imports torch, installing it first if needed (a local CPU wheel when there is one)."""
    try:
        importlib.import_module("torch")
    except ImportError:
        wheels = _local_cpu_torch_wheels()
        if wheels:
            try:
                _pip_install([wheels[-1]])
            except subprocess.CalledProcessError:
                _pip_install(["torch"])
        else:
            _pip_install(["torch"])
    importlib.invalidate_caches()
