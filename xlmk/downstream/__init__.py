"""Zero-shot cross-lingual fine-tuning (XNLI, MLQA, NER, PAN-X) with the XGLUE protocol, and the
official metrics. Entry points: `xlmk.downstream.run.finetune` and `xlmk.downstream.run.score`."""
