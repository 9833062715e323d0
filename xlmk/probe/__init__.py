"""Probing (no training): LAMA and multilingual LAMA cloze probes, and the XEP/XOR knowledge probes of
the paper's Appendix B. `run.probe(recipe)` runs one; `xlmk probe lama|mlama|xep|xor` is its command.

Modules: `specs` (what each probe measures), `recipe`, `lama` (readers and coverage), `scoring`
(batched masked-LM scoring), `cloze` (LAMA/mLAMA metrics), `queries`, `dense`, `xep`, `xor`,
`metrics`, `table` (the paper's tables from result rows), `run`.
"""
