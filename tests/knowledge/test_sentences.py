"""Sentence splitting per script, and mentions never cut across sentences."""
import pytest

from xlmk.knowledge.sentences import sentence_spans, sentences_of_spans


def split(text, lang, protected=()):
    return [text[s:e] for s, e in sentence_spans(text, lang, list(protected))]


@pytest.mark.parametrize("lang,text,expected", [
    ("en", "Dr. Smith met J. R. R. Tolkien in 1950. He left! Did he? Yes",
     ["Dr. Smith met J. R. R. Tolkien in 1950.", "He left!", "Did he?", "Yes"]),
    ("en", "It cost 3.5 million (approx. 4 million). the end", ["It cost 3.5 million (approx. 4 million). the end"]),
    ("en", "He said \"Go.\" Then he went.", ["He said \"Go.\"", "Then he went."]),
    ("de", "Am 3. Oktober 1990 kam es, z.B. in Berlin. Das ist so.",
     ["Am 3. Oktober 1990 kam es, z.B. in Berlin.", "Das ist so."]),
    ("zh", "北京是中国的首都。上海是最大的城市！真的吗？是的", ["北京是中国的首都。", "上海是最大的城市！", "真的吗？", "是的"]),
    ("zh", "他说：「好。」然后走了。", ["他说：「好。」", "然后走了。"]),
    ("hi", "दिल्ली भारत की राजधानी है। मुंबई बड़ा शहर है।", ["दिल्ली भारत की राजधानी है।", "मुंबई बड़ा शहर है।"]),
    ("ar", "هل هذا صحيح؟ نعم. هذا جيد", ["هل هذا صحيح؟", "نعم.", "هذا جيد"]),
    ("vi", "Hà Nội là thủ đô. TP. Hồ Chí Minh là thành phố lớn nhất.",
     ["Hà Nội là thủ đô.", "TP. Hồ Chí Minh là thành phố lớn nhất."]),
    ("es", "¿Qué es? Es la Sra. García. Vive aquí.", ["¿Qué es?", "Es la Sra. García.", "Vive aquí."]),
    ("en", "Line one\nLine two.  \n\n  Line three", ["Line one", "Line two.", "Line three"]),
    # lower case after the blanks (ASCII or not) continues the sentence; blanks at the very end do not
    ("en", "One.   two. Three. Δέλτα. δέλτα ends.  ", ["One.   two.", "Three.", "Δέλτα. δέλτα ends."]),
    ("fr", "Il part.\u00a0été venu. Ça va!) oui.", ["Il part.\u00a0été venu.", "Ça va!) oui."]),
])
def test_sentences_per_language(lang, text, expected):
    assert split(text, lang) == expected


def test_protected_spans_are_never_cut():
    text = "They read Stop. Go today. Then left."
    link = (text.index("Stop"), text.index(" today"))
    assert split(text, "en") == ["They read Stop.", "Go today.", "Then left."]
    assert split(text, "en", [link]) == ["They read Stop. Go today.", "Then left."]
    held = sentences_of_spans(text, "en", [link, (text.index("left"), len(text) - 1)])
    assert [text[s:e] for s, e in held] == ["They read Stop. Go today.", "Then left."]


def test_link_across_a_chinese_full_stop_stays_whole():
    text = "他读了《一。二》这本书。好"
    span = (text.index("一"), text.index("》"))
    held = sentences_of_spans(text, "zh", [span])[0]
    assert held[0] <= span[0] and span[1] <= held[1]


def test_only_cuts_inside_a_span_are_dropped_whatever_the_order_of_spans():
    text = "Ab cd. Ef gh. Ij kl. Mn op."
    assert split(text, "en") == ["Ab cd.", "Ef gh.", "Ij kl.", "Mn op."]
    # a span over the cut after "gh." holds it; spans that end or begin exactly at a cut do not
    spans = [(21, 27), (10, 16), (0, 6), (20, 21)]
    assert split(text, "en", spans) == ["Ab cd.", "Ef gh. Ij kl.", "Mn op."]
    held = sentences_of_spans(text, "en", spans)
    assert [text[h[0]:h[1]] if h else None for h in held] == ["Mn op.", "Ef gh. Ij kl.", "Ab cd.", None]


def test_a_span_across_a_line_break_keeps_its_lines_together():
    text = "Ab cd. Ef\ngh. Ij"
    assert split(text, "en") == ["Ab cd.", "Ef", "gh.", "Ij"]
    assert split(text, "en", [(7, 11)]) == ["Ab cd.", "Ef\ngh.", "Ij"]


def test_blanks_around_sentences_are_trimmed_whatever_kind():
    text = "\u3000 Ab cd.\u00a0\u2009 Ef gh. \t\n\x1c Ij \u2028"
    assert split(text, "en") == ["Ab cd.", "Ef gh.", "Ij"]
