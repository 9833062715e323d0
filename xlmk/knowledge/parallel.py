"""Ordered, bounded parallel map over jobs produced while a dump is being read.

Results come back in job order (so markers and the manifest do not depend on timing), and at most
`window` jobs are in flight, so reading a 100 GB dump never queues more than a few chunks in memory.
Workers are spawned, not forked: the parent holds open files and pyarrow thread pools, which a fork
would copy in an unsafe state.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Iterator


def ordered_map(fn: Callable[[dict], dict], jobs: Iterable[dict], workers: int,
                window: int | None = None) -> Iterator[dict]:
    """Yield fn(job) for each job, in order; with workers > 1, in a pool of spawned processes."""
    if workers <= 1:
        for job in jobs:
            yield fn(job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    window = window or 2 * workers
    pending: deque = deque()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
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
