"""Table 7 as the paper prints it: the split, the candidate count and the similarity named, raw-state
baselines beside trained heads and labelled, the `all` split flagged."""
from __future__ import annotations

from xlmk.probe.table import knowledge_table
from xlmk.results import ResultRow


def _rows(model: str, protocol: str, value: float, *, split: str = "heldout", n_candidates: int = 512,
          similarity: str = "cosine") -> list[ResultRow]:
    out = []
    for probe in ("xep", "xor"):
        for lang, subset in ((None, f"{probe.upper()}/avg"), ("en", probe.upper()), ("de", probe.upper())):
            out.append(ResultRow(stage="probe", name=probe, version=2, model=f"runs/{model}", model_name=model,
                                 language=lang, subset=subset, split=split, metric="accuracy", value=value,
                                 protocol=protocol, extra={"n_candidates": n_candidates, "similarity": similarity,
                                                           "split": split, "representation": f"{protocol} of {model}"}))
    return out


def _render(table) -> tuple[str, list[str]]:
    return str(table.title), ["\n".join(str(c.header).split("\n")) for c in table.columns]


def test_table_7_names_split_candidates_similarity_and_readout():
    rows = _rows("xlm-r", "raw-states", 3.0) + _rows("xlmk-tiny", "heads", 12.0)
    title, headers = _render(knowledge_table(rows))
    assert "split: heldout (held-out rows)" in title and "N = 512 candidates" in title and "similarity: cosine" in title
    assert headers[1:] == ["xlm-r\nXEP (raw states)", "xlm-r\nXOR (raw states)",
                           "xlmk-tiny\nXEP (heads)", "xlmk-tiny\nXOR (heads)"]
    table = knowledge_table(rows)
    cells = [[str(x) for x in c.cells] for c in table.columns]
    assert cells[0][:3] == ["avg", "de", "en"] and cells[1][0] == "3.00" and cells[3][0] == "12.00"
    assert "(raw states) = encoder states without heads" in str(table.caption)


def test_the_same_model_with_heads_and_raw_states_gets_two_columns():
    rows = _rows("xlmk-tiny", "heads", 12.0) + _rows("xlmk-tiny", "raw-states", 4.0)
    _, headers = _render(knowledge_table(rows))
    assert "xlmk-tiny\nXEP (heads)" in headers and "xlmk-tiny\nXEP (raw states)" in headers


def test_differing_settings_go_to_the_columns_and_split_all_is_flagged():
    rows = _rows("a", "heads", 10.0, split="all", n_candidates=1024) + _rows("b", "heads", 5.0, n_candidates=512)
    table = knowledge_table(rows)
    title, headers = _render(table)
    assert "split:" not in title and "N =" not in title and "similarity: cosine" in title
    assert "a\nXEP (heads) !\nsplit all\ncandidates 1024" in headers
    assert "b\nXOR (heads)\nsplit heldout\ncandidates 512" in headers
    assert "! split all: queries include rows the model trained on" in str(table.caption)
