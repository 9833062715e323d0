"""Zero-shot (and translate-train) cross-lingual fine-tuning with the XGLUE and XTREME protocols: XNLI,
PAWS-X, MLQA, XQuAD, TyDiQA-GoldP, NER, PAN-X, UD-POS, and XTREME's retrieval tasks BUCC and Tatoeba
(retrieve.py), with the official metrics. Entry points: `xlmk.downstream.run.finetune` and
`xlmk.downstream.run.score`."""
