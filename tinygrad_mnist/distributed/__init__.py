"""Data-parallel training across processes, over MPI (PyTorch's `torch.distributed` and
`DistributedDataParallel`, on mpi4py): a process group (`group.py`) and the model replica
that sums gradients in buckets (`parallel.py`).

mpi4py is an optional extra (`pip install 'tinygrad_mnist[mpi]'`: mpi4py and the mpich wheel,
which brings `mpiexec`). Nothing here imports it unless `mpiexec` started several ranks: a job
of one is a `SingleProcess` group. docs/distributed.md teaches why the summed shard gradients
are the full-batch gradient, ring all-reduce and its cost, and bucketing.
"""
from .group import CollectiveTimeout, Group, MPIGroup, MPIMissing, SingleProcess, Work, init_group, launched_size
from .parallel import DataParallel

__all__ = ["CollectiveTimeout", "Group", "MPIGroup", "MPIMissing", "SingleProcess", "Work", "init_group",
           "launched_size", "DataParallel"]
