"""transformers 4.57 beside 5.x: every difference between the two that xlmk meets is handled here.

The rest of the package and its tests call these functions instead of testing versions themselves. In
5.x the slow/fast split is gone and `XLMRobertaTokenizer` is backed by `tokenizers`; in 4.x that name is
the SentencePiece class (it needs `sentencepiece` and a `.model` file) and the `tokenizers` one is
`XLMRobertaTokenizerFast`.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any


@functools.cache
def transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def xlmr_tokenizer_class() -> Any:
    """XLM-R's tokenizer class backed by `tokenizers` (what `AutoTokenizer` gives for an XLM-R checkpoint)."""
    if transformers_major() >= 5:
        from transformers import XLMRobertaTokenizer

        return XLMRobertaTokenizer
    from transformers import XLMRobertaTokenizerFast

    return XLMRobertaTokenizerFast


def xlmr_tokenizer_from_vocab(vocab: list[tuple[str, float]]) -> Any:
    """An XLM-R tokenizer over a Unigram vocabulary of (piece, log-probability) pairs: `<s> <pad> </s> <unk>`
    first, `<mask>` among them. 4.x gets the very pipeline that 5.x's `XLMRobertaTokenizer(vocab=…)` builds,
    so both versions cut every text into the same ids."""
    if transformers_major() >= 5:
        from transformers import XLMRobertaTokenizer

        return XLMRobertaTokenizer(vocab=vocab)
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import XLMRobertaTokenizerFast

    ids = {piece: i for i, (piece, _) in enumerate(vocab)}
    tok = Tokenizer(Unigram(vocab=vocab, unk_id=ids["<unk>"], byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single=["<s>", "$A", "</s>"], pair=["<s>", "$A", "</s>", "</s>", "$B", "</s>"],
        special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])])
    return XLMRobertaTokenizerFast(tokenizer_object=tok)


def load_xlmr_tokenizer(path: str | Path) -> Any:
    """XLM-R's tokenizer from a directory holding a bare `tokenizer.json`: the XLM-R class (not `AutoTokenizer`,
    which finds no config there) declares `<s> </s> <pad> <mask>`."""
    return xlmr_tokenizer_class().from_pretrained(str(path))


def trainer_arguments(**kwargs: Any) -> Any:
    """`TrainingArguments` written the 5.x way (the Trainer baselines of the benchmarks): a `warmup_steps`
    below 1 is a ratio (4.x: `warmup_ratio`), `train_sampling_strategy="group_by_length"` is 4.x's
    `group_by_length=True`."""
    from transformers import TrainingArguments

    if transformers_major() < 5:
        if 0 < kwargs.get("warmup_steps", 0) < 1:
            kwargs["warmup_ratio"] = kwargs.pop("warmup_steps")
        strategy = kwargs.pop("train_sampling_strategy", "random")
        if strategy not in ("random", "group_by_length"):
            raise ValueError(f"train_sampling_strategy={strategy!r}: transformers 4.x knows random and group_by_length")
        kwargs["group_by_length"] = strategy == "group_by_length"
    return TrainingArguments(**kwargs)
