"""Where shard tasks run: a pool of processes on this machine, or a Ray cluster.

Both take the same task function and the same job dicts and give results back in job order, so what
the coordinator writes (markers, manifest) never depends on timing. At most `window` jobs are in
flight, so a plan of thousands of ranges never queues more than a few results in memory.

On Ray each task may run twice (`max_retries=1`, exceptions included): a worker lost with its
machine, or a passing failure, costs one retry. A task that fails twice stops the build with the
task's id, range and cause; the shards finished before it keep their markers, so a rerun resumes.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Iterator

from xlmk.errors import XlmkError
from xlmk.knowledge.parallel import ordered_map

ENGINES = ("process", "ray")


def run_tasks(fn: Callable[[dict], dict], jobs: Iterable[dict], *, engine: str = "process", workers: int = 1,
              ray_address: str | None = None, pool=None) -> Iterator[dict]:
    """Yield fn(job) for each job, in order, on the chosen engine (`pool`: a process pool to reuse)."""
    if engine == "process":
        yield from ordered_map(fn, jobs, workers, pool=pool)
        return
    if engine != "ray":
        raise XlmkError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    yield from _ray_map(fn, jobs, workers, ray_address)


def _ray_map(fn, jobs: Iterable[dict], workers: int, address: str | None) -> Iterator[dict]:
    try:
        import ray
    except ImportError:
        raise XlmkError("--engine ray needs Ray: pip install 'xlmk[ray]'") from None
    started = False
    if not ray.is_initialized():  # a caller (or a test) may have started Ray already
        kwargs = {"address": address} if address else {"num_cpus": workers}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        started = True
    window = max(2, 2 * int(ray.cluster_resources().get("CPU", workers)))
    remote = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=True)(fn)
    pending: deque = deque()
    try:
        for job in jobs:
            pending.append((job, remote.remote(job)))
            if len(pending) >= window:
                yield _get(ray, *pending.popleft())
        while pending:
            yield _get(ray, *pending.popleft())
    finally:
        for _, ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _get(ray, job: dict, ref) -> dict:
    try:
        return ray.get(ref)
    except Exception as exc:  # noqa: BLE001 - RayTaskError, WorkerCrashedError, … all end the build alike
        cause = getattr(exc, "cause", None) or exc
        where = job.get("range")
        where = f" (range {where.get('start')}-{where.get('end')} of {job['source']['path']})" if where else ""
        raise XlmkError(f"shard task {job.get('id', '?')}{where} failed twice, the last time with "
                        f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}; "
                        "finished shards are kept, rerun to resume") from None
