"""5. The whole default run as a user starts it: wall time and peak memory of a fresh process."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

try:
    import torch
except ImportError:
    torch = None

HERE = os.path.dirname(os.path.abspath(__file__))


# Runs a module or script and reports its own peak memory at exit. ru_maxrss from wait4 would not
# do: Linux carries the forking parent's high-water mark across exec.
PEAK_WRAPPER = """
import atexit, os, runpy, sys
def report():
    with open('/proc/self/status') as f:
        kb = next(line.split()[1] for line in f if line.startswith('VmHWM'))
    sys.stderr.write(f'\\nPEAK_KB={kb}\\n')
    sys.stderr.flush()
atexit.register(report)
_exit = os._exit
def exit_reporting(code):  # the trainer's command line ends with os._exit, which skips atexit
    report()
    _exit(code)
os._exit = exit_reporting
kind, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
(runpy.run_module(target, run_name='__main__', alter_sys=True) if kind == '-m'
 else runpy.run_path(target, run_name='__main__'))
"""


def run_process(target: List[str], env: Optional[Dict[str, str]] = None):
    """Wall time (s) and peak resident memory (MiB) of `python -m module` or `python script`."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *target], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or "PEAK_KB=" not in proc.stderr:
        raise RuntimeError(f"{' '.join(target)} failed: {proc.stderr[-500:]}")
    return wall, int(proc.stderr.rsplit("PEAK_KB=", 1)[1].split()[0]) / 1024


def process_workloads(repeats: int):
    """5. The whole default run, start to finish, as a user runs it."""
    engine = ["-m", "tinygrad_mnist.train"]
    run_process(engine)  # make sure the caches are warm: compiled kernels, decoded MNIST (and bytecode)
    cases = {"engine, warm cache": lambda: run_process(engine)}

    def cold():  # the first run ever: no compiled kernels, no decoded MNIST in the cache
        with tempfile.TemporaryDirectory() as empty:
            env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
            return run_process(engine, dict(env, XDG_CACHE_HOME=empty))
    cases["engine, empty cache"] = cold
    script = os.path.join(HERE, "baselines.py")
    cases["numpy script"] = lambda: run_process(["-p", script, "numpy"])
    if torch is not None:
        cases["torch script"] = lambda: run_process(["-p", script, "torch"])
    results = {}
    for name, fn in cases.items():
        runs = [fn() for _ in range(repeats)]
        results[name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs))
    return results
