"""A process of the two-process fine-tuning test (gloo on CPU); importable by spawned children."""
from __future__ import annotations

import json
import os
from pathlib import Path


def finetune_worker(rank: int, world: int, init_file: str, kwargs: dict, out: str) -> None:
    import torch
    import torch.distributed as dist

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      OMP_NUM_THREADS="1", XLMK_QUIET="1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    from xlmk.downstream.run import finetune

    result = finetune(**kwargs)
    # every process holds the same scores (outputs are gathered before decoding)
    Path(out, f"rank{rank}.json").write_text(json.dumps(result.summary["protocols"]))
    del result
    import gc

    gc.collect()
    if dist.is_initialized():  # finetune ends the process group itself; this covers an early error
        dist.barrier()
        dist.destroy_process_group()
