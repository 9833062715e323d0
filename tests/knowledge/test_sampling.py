"""language_probabilities: XLM-R's p_i ** alpha balancing."""
import math

import pytest

from xlmk.errors import XlmkError
from xlmk.knowledge.sampling import language_probabilities


def test_alpha_one_keeps_shares_and_zero_is_uniform():
    counts = {"en": 900, "de": 90, "hi": 10}
    assert language_probabilities(counts, alpha=1.0) == pytest.approx({"en": 0.9, "de": 0.09, "hi": 0.01})
    assert language_probabilities(counts, alpha=0.0) == pytest.approx({k: 1 / 3 for k in counts})


def test_default_alpha_matches_formula_and_raises_small_languages():
    counts = {"en": 900, "de": 90, "hi": 10}
    probs = language_probabilities(counts)
    w = {k: (v / 1000) ** 0.3 for k, v in counts.items()}
    assert probs == pytest.approx({k: x / sum(w.values()) for k, x in w.items()})
    assert math.isclose(sum(probs.values()), 1.0)
    assert probs["hi"] > 0.01 and probs["en"] < 0.9
    assert list(probs) == ["en", "de", "hi"]


def test_empty_languages_get_zero_even_when_uniform():
    probs = language_probabilities({"en": 5, "xx": 0}, alpha=0.0)
    assert probs == {"en": 1.0, "xx": 0.0}


@pytest.mark.parametrize("counts,alpha", [({"en": 0}, 0.3), ({"en": -1, "de": 3}, 0.3), ({"en": 1}, 1.5)])
def test_bad_input_is_an_error(counts, alpha):
    with pytest.raises(XlmkError):
        language_probabilities(counts, alpha=alpha)
