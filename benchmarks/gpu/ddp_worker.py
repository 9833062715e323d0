"""One process of the GPU check's DDP section (started by torchrun): the engine on a recipe file.

Usage: python -m torch.distributed.run --standalone --nproc_per_node=N ddp_worker.py RECIPE.json RUN_DIR
"""
from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, when xlmk is not installed


def main(recipe_file: str, run_dir: str) -> None:
    import torch
    import torch.distributed as dist

    from xlmk.config import recipe_to_yaml
    from xlmk.pretrain.loop import train
    from xlmk.pretrain.recipe import PretrainRecipe

    if not torch.cuda.is_available():  # accelerate's CPU mode joins an existing gloo group
        torch.set_num_threads(1)
        dist.init_process_group("gloo")
    recipe = PretrainRecipe.model_validate(json.loads(Path(recipe_file).read_text()))
    train(recipe, Path(run_dir), recipe_to_yaml(recipe))
    gc.collect()
    if dist.is_initialized():  # ENVIRONMENT.md: a clean shutdown avoids an abort at exit
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:3])
