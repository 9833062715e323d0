"""How an encoder's states are organised: the share of their variance that lies between languages.

    PYTHONPATH=. python examples/state_geometry.py MODEL_DIR [MODEL_DIR ...]

For 256 descriptions of the sample world (7 languages) it prints, for mean-pooled states, [CLS] states,
mean states through a fresh projection head and through a fresh BatchNorm head: the language R² (between-
language variance / total variance) and the share of the variance on the first principal direction.
docs/pretrain.md ("Continuing from an MLM-trained encoder") reads these numbers.
"""
from __future__ import annotations

import sys

import numpy as np
import torch


def language_r2(x: torch.Tensor, langs: np.ndarray) -> float:
    xc = x - x.mean(0)
    between = sum(float((langs == lang).sum()) * float((xc[torch.as_tensor(langs == lang)].mean(0) ** 2).sum())
                  for lang in np.unique(langs))
    return between / float((xc ** 2).sum())


def first_direction(x: torch.Tensor) -> float:
    s = torch.linalg.svdvals(x - x.mean(0))
    return float(s[0] ** 2 / (s ** 2).sum())


def main(paths: list[str]) -> None:
    from xlmk.components import SampleKnowledge
    from xlmk.modeling import load_masked_lm
    from xlmk.pretrain.heads import ProjectionHead
    from xlmk.pretrain.prepare import prepare_knowledge

    for path in paths:
        torch.manual_seed(0)
        enc, tok = load_masked_lm(path)
        enc.eval()
        kp = prepare_knowledge(SampleKnowledge().build(), tok)
        idx = np.random.default_rng(0).choice(len(kp.desc), 256, replace=False)
        seqs, langs = [kp.desc[int(i)][:64] for i in idx], np.asarray([int(kp.desc_lang[i]) for i in idx])
        ids = torch.full((len(seqs), max(map(len, seqs))), tok.pad_token_id)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(seqs):
            ids[i, :len(s)], mask[i, :len(s)] = torch.as_tensor(s, dtype=torch.long), 1
        with torch.no_grad():
            h = enc.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
            mean = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            d = h.shape[-1]
            views = {"mean": mean, "[CLS]": h[:, 0], "head(mean)": ProjectionHead(d, d, d).eval()(mean),
                     "BatchNorm head(mean)": ProjectionHead(d, d, d, batch_norm=True).train()(mean)}
        print(path)
        for name, x in views.items():
            print(f"  {name:22s} language R2 {language_r2(x, langs):.2f}  first direction {first_direction(x):.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
