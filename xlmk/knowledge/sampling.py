"""Language balancing as in XLM-R: sample language i with probability proportional to p_i ** alpha.

p_i = n_i / N is the language's share of the data. alpha = 1 keeps the natural distribution, alpha = 0
makes it uniform; XLM-R (and XLM-K) use 0.3, which raises low-resource languages without letting
them dominate.
"""
from __future__ import annotations

from typing import Mapping

from xlmk.errors import XlmkError


def language_probabilities(counts: Mapping[str, int], alpha: float = 0.3) -> dict[str, float]:
    """Return {lang: probability} with probability proportional to (n_lang / N) ** alpha.

    Languages with a count of 0 get probability 0 (0 ** alpha would be 1 when alpha = 0, which would
    make the loader ask for data that does not exist). The result keeps the input's key order and
    sums to 1.
    """
    if not 0.0 <= alpha <= 1.0:
        raise XlmkError(f"alpha must lie in [0, 1], got {alpha}")
    bad = {lang: n for lang, n in counts.items() if n < 0}
    if bad:
        raise XlmkError(f"negative example counts: {bad}")
    total = sum(counts.values())
    if total == 0:
        raise XlmkError(f"no data in any language: {dict(counts)}")
    weights = {lang: (n / total) ** alpha if n > 0 else 0.0 for lang, n in counts.items()}
    norm = sum(weights.values())
    return {lang: w / norm for lang, w in weights.items()}
