"""Fine-tuning with run.report_to=tensorboard: each epoch's train loss and dev scores land in event files; the
saved model's card names the model it was fine-tuned from and its scores."""
from __future__ import annotations

import json

import pytest

from xlmk.downstream.run import finetune


@pytest.mark.slow
def test_tensorboard_gets_each_epochs_loss_and_dev_scores(realdata, small_model, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    finetune("xnli", model=str(small_model), data=str(realdata / "xnli"), seeds=[1], languages=["en", "de"], out=out,
             overrides=["optim.lr=1e-3", "optim.epochs=2", "optim.batch_size=4", "task.max_length=48",
                        "run.save_predictions=false", "run.report_to=tensorboard"])
    history = [json.loads(x) for x in (out / "seed-1/history.jsonl").read_text().splitlines()]
    events = sorted(out.rglob("events.out.tfevents.*"))
    assert events
    scalars = {}
    for f in events:
        acc = EventAccumulator(str(f.parent))
        acc.Reload()
        scalars.update({tag: acc.Scalars(tag) for tag in acc.Tags()["scalars"]})
    assert [e.step for e in scalars["seed-1/train_loss"]] == [1, 2]
    assert [e.value for e in scalars["seed-1/train_loss"]] == pytest.approx([h["train_loss"] for h in history], rel=1e-6)
    assert [e.value for e in scalars["seed-1/dev-de/accuracy"]] == \
        pytest.approx([h["dev"]["dev-de"]["accuracy"] for h in history], rel=1e-6)
    card = (out / "seed-1/model/README.md").read_text()
    assert f"base_model: {small_model}" in card and f"fine-tuned from: `{small_model}`" in card
    assert "| finetune | xnli | test | accuracy |" in card and "2 languages, seed 1, xglue-avg-dev" in card
