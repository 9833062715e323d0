"""Ordered, bounded parallel map over jobs produced while a dump is being read.

Results come back in job order (so markers and the manifest do not depend on timing), and at most
`window` jobs are in flight, so reading a 100 GB dump never queues more than a few chunks in memory.
Workers are spawned, not forked: the parent holds open files and pyarrow thread pools, which a fork
would copy in an unsafe state.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Iterator


def spawn_pool(workers: int):
    """A pool of `workers` spawned processes (the caller closes it, e.g. in a `with`)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def ordered_map(fn: Callable[[dict], dict], jobs: Iterable[dict], workers: int,
                window: int | None = None, pool=None) -> Iterator[dict]:
    """Yield fn(job) for each job, in order; with workers > 1, in `pool` (kept open: several phases
    share its processes) or else a pool of spawned processes made for this call."""
    if workers <= 1:
        for job in jobs:
            yield fn(job)
        return
    if pool is None:
        with spawn_pool(workers) as own:
            yield from ordered_map(fn, jobs, workers, window, own)
        return
    window = window or 2 * workers
    pending: deque = deque()
    try:
        for job in jobs:
            pending.append(pool.submit(fn, job))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
