"""Starting jobs of several ranks in the tests: the mpiexec beside this Python (the mpich wheel's),
and the marker that skips a test only where mpi4py is absent (never in CI, whose install has it)."""
import os
import shutil
import subprocess
import sys

import pytest

try:
    import mpi4py  # noqa: F401
    HAVE_MPI = True
except ImportError:
    HAVE_MPI = False

needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="mpi4py is not installed (pip install -e '.[test]' brings it)")


def mpiexec() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.path.exists(beside) else shutil.which("mpiexec") or "mpiexec"


def job(n: int, *argv, timeout: float = 240, **kwargs) -> subprocess.CompletedProcess:
    """`mpiexec -n n python ARGV...`, its output captured."""
    return subprocess.run([mpiexec(), "-n", str(n), sys.executable, *map(str, argv)], capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def ranks_of(token: str) -> dict:
    """{rank: pid} of the Python processes of the job started with JOB_TOKEN=token in its
    environment (mpiexec passes it on; each rank's PMI_RANK says which it is)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = open(f"/proc/{entry}/environ", "rb").read().split(b"\0")
            cmd = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        rank = [e[9:] for e in env if e.startswith(b"PMI_RANK=")]
        if rank and b"python" in cmd and f"JOB_TOKEN={token}".encode() in env:
            found[int(rank[0])] = int(entry)
    return found
