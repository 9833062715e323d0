"""Continued pre-training with the XLM-K objectives (or any recipe of the same parts): `run.pretrain(recipe)`
runs one; `xlmk pretrain` is its command and `xlmk.api.pretrain` its Python entry point."""
