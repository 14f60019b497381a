"""How the model runs in this process: the worker thread's torch threads, and quiet loads.

torch's intra-op thread count is per calling thread here: :func:`set_threads` runs in
the embedder's own worker thread (where every forward pass runs), so it leaves the rest
of the process alone. The default is one thread, chosen by measurement: in a process
where only that worker runs torch (a service: the event loop never does), a forward pass
on every core of a busy machine took 10x longer than on one thread (2,423 vs 247 ms p50
for one text; ``benchmarks/bench_local.py``, docs/adapters/local.md), like the 630-660 ms
vs 50-75 ms once seen without and with ``OMP_NUM_THREADS=1``. ``MEMCORE_LOCAL_THREADS``
raises it on a host kept for embedding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["DEFAULT_THREADS", "quiet_load", "set_threads"]

DEFAULT_THREADS = 1
"""Intra-op threads of a forward pass unless ``MEMCORE_LOCAL_THREADS`` says otherwise."""


def set_threads(count: int) -> None:
    """Give the calling thread's torch ops ``count`` intra-op threads (the worker's initializer)."""
    try:
        import torch  # noqa: PLC0415 - only once a worker starts, never at import
    except ImportError:
        return  # the model load reports the missing package
    torch.set_num_threads(count)


@contextlib.contextmanager
def quiet_load() -> Iterator[None]:
    """No ``Loading weights`` bar while the embedder loads its model.

    Only for the load: transformers' progress bars are back on afterwards, for the
    application's own long work.
    """
    try:
        from transformers.utils import logging as hf_logging  # noqa: PLC0415
    except ImportError:
        yield
        return
    if not hf_logging.is_progress_bar_enabled():
        yield
        return
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
