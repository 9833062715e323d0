"""What a probe measures: one config class per probe kind (`lama`, `mlama`, `xep`, `xor`, `custom`).

`ProbeSpec` is the discriminated union a probe recipe holds under `probe:`. Each class documents its
fields (the CLI, `xlmk registry` and error messages read these descriptions) and carries no code
beyond locating its data; the probes themselves live in `cloze.py` (LAMA, mLAMA) and `dense.py`
(XEP, XOR), called by `run.probe`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field

from xlmk.components import KnowledgeDir, SampleKnowledge
from xlmk.config import StrictModel, import_target
from xlmk.errors import ConfigError

# Bumped when prompts, data handling or metrics of a probe change; written into every result row.
# xep/xor 2: queries come from held-out rows by default (`split`).
PROBE_VERSIONS: dict[str, int] = {"lama": 1, "mlama": 1, "xep": 2, "xor": 2}

LAMA_CORPORA = ("Google_RE", "TREx", "ConceptNet", "Squad")


# ---------------------------------------------------------------- where the data is
class DataDir(StrictModel):
    """A directory on disk in the data set's original layout."""

    kind: Literal["dir"] = "dir"
    path: str = Field(description="The directory (LAMA's `data/`, or mLAMA's folder of language folders).")

    def build(self) -> Path:
        p = Path(self.path).expanduser()
        if not p.is_dir():
            raise ConfigError(f"probe.data.path: {p} is not a directory")
        return p


class SampleWorldData(StrictModel):
    """A folder of the bundled sample world (`xlmk/sample_world/data/<subdir>`)."""

    kind: Literal["sample-world"] = "sample-world"
    subdir: str = Field(description="Folder inside the sample world: lama or mlama.")

    def build(self) -> Path:
        from xlmk.sample_world import DATA_DIR

        p = Path(DATA_DIR) / self.subdir
        if not p.is_dir():
            raise ConfigError(f"probe.data: the bundled sample world has no {self.subdir}/ (looked in {p})")
        return p


class ProbeKnowledgeDir(StrictModel):
    """A knowledge directory written by `xlmk knowledge build`."""

    kind: Literal["knowledge-dir"] = "knowledge-dir"
    path: str = Field(description="The knowledge directory (manifest.json, mentions/, descriptions/, triples/, …).")

    def build(self) -> Path:
        return KnowledgeDir(path=self.path).build()


class ProbeSampleKnowledge(StrictModel):
    """The knowledge of the bundled sample world, built on first use and cached."""

    kind: Literal["sample-knowledge"] = "sample-knowledge"
    cache_dir: str | None = Field(None, description="Where the built directory is kept; None = ~/.cache/xlmk.")

    def build(self) -> Path:
        return SampleKnowledge(cache_dir=self.cache_dir).build()


ProbeData = Annotated[Union[DataDir, SampleWorldData], Field(discriminator="kind")]
# the probe's own variants: pre-training's sampling fields (alpha, languages) would be ignored here
KnowledgeSource = Annotated[Union[ProbeKnowledgeDir, ProbeSampleKnowledge], Field(discriminator="kind")]


# ---------------------------------------------------------------- cloze probes
class LamaProbe(StrictModel):
    """LAMA (Petroni et al. 2019) as its own scripts run it: single-token objects, P@1/P@10/MRR per
    relation, corpus Totals as means over relations, T-REx also by relation type (1-1, N-1, N-M)."""

    kind: Literal["lama"] = "lama"
    data: ProbeData = Field(default_factory=lambda: DataDir(path="LAMA/data"),
                            description="LAMA's data directory (Google_RE/, TREx/, ConceptNet/, Squad/, relations.jsonl).")
    corpora: list[Literal["Google_RE", "TREx", "ConceptNet", "Squad"]] = Field(
        default_factory=lambda: list(LAMA_CORPORA), description="Corpora to probe (folder names of LAMA's data).")
    relations_file: str = Field("relations.jsonl", description="T-REx templates and relation types; relative to the data directory or absolute.")
    relations: list[str] | None = Field(None, description="Only these relations (e.g. P19, place_of_birth); None = all.")
    common_vocab: str | None = Field(None, description="A vocabulary file (one word per line) shared by the models compared: "
                                                        "objects outside it are dropped and predictions are ranked within it (LAMA's common_vocab_cased.txt).")
    exclude_special_tokens: bool = Field(True, description="Leave <s>, </s>, <pad>, <unk>, <mask> out of the ranking when no common vocabulary is given.")
    lowercase: bool = Field(False, description="Lower-case subjects, objects and sentences (LAMA's --lowercase, for uncased models).")
    dedupe: bool = Field(True, description="One fact per (subject, object) of a templated relation, as LAMA does.")
    max_sentence_words: int = Field(100, ge=1, description="Masked sentences (ConceptNet, SQuAD) longer than this many words are dropped (LAMA: 100).")
    top_k: int = Field(10, ge=1, description="k of P@k, and the predictions kept per fact.")
    mrr_cutoff: int | None = Field(5000, ge=1, description="Ranks beyond this count 0 in MRR (LAMA ranks the top 5000); None = exact rank.")
    max_facts_per_relation: int | None = Field(None, ge=1, description="Keep at most this many facts per relation (quick runs); None = all.")


class MLamaProbe(StrictModel):
    """Multilingual LAMA (Kassner et al. 2021): multi-token objects ranked among the relation's candidate
    objects by the mean log-probability of their tokens; P@1 per relation and language."""

    kind: Literal["mlama"] = "mlama"
    data: ProbeData = Field(default_factory=lambda: DataDir(path="mlama1.1"),
                            description="mLAMA's folder of language folders ({lang}/{relation}.jsonl + {lang}/templates.jsonl).")
    languages: list[str] | None = Field(None, description="Languages to probe; None = every language folder with a templates.jsonl.")
    relations: list[str] | None = Field(None, description="Only these relations; None = all with a template.")
    candidates: list[str] = Field(default_factory=list, description=(
        "Candidate-object files, one pattern per source with {lang}, e.g. 'data/TREx_multilingual_objects/{lang}.json' "
        "(relative to the data directory or absolute); JSON {relation: {objects: [...]}}. Empty = the objects of the "
        "relation's facts in that language. The gold object is always a candidate."))
    max_candidate_tokens: int | None = Field(None, ge=1, description="Leave out candidates longer than this many tokens; None = no limit (mLAMA).")
    dedupe: bool = Field(False, description="One fact per (subject, object); mLAMA keeps every fact (dedupes by uuid).")
    top_k: int = Field(10, ge=1, description="k of P@k, and the predictions kept per fact.")
    max_facts_per_relation: int | None = Field(None, ge=1, description="Keep at most this many facts per relation and language; None = all.")


# ---------------------------------------------------------------- dense (knowledge) probes
class _DenseProbe(StrictModel):
    knowledge: KnowledgeSource = Field(default_factory=lambda: ProbeKnowledgeDir(path="knowledge"),
                                       description="The knowledge directory (`xlmk knowledge build`) queries and candidates come from.")
    languages: list[str] | None = Field(None, description="Query languages; None = every language of the knowledge directory.")
    queries_per_language: int = Field(1000, ge=1, description="Queries drawn per language (fewer when fewer exist).")
    candidates: int = Field(32768, ge=1, description="N, descriptions in the candidate list (the paper: 32k); capped by what exists.")
    candidate_languages: list[str] | None = Field(None, description="Languages candidate descriptions are drawn from; None = all (language agnostic).")
    gold_description: Literal["other", "same", "any"] = Field(
        "other", description="Language of the gold description put in the list: other than the query's (cross-lingual), the same, or any.")
    layer: int | None = Field(None, description="Hidden layer read (0 = embeddings, -1 = last); None = the layer the checkpoint's heads "
                                                 "were trained on (heads.meta mep_layer / oe_layer), else the last.")
    max_length: int = Field(256, ge=8, description="Maximum tokens of a query sentence and of a description (the paper: 256).")
    use_heads: bool = Field(True, description="Project through the checkpoint's knowledge heads when it has them; false = raw states always.")
    oversample: int = Field(4, ge=1, description="Rows drawn per wanted query before filtering (queries need a gold description).")
    split: Literal["heldout", "entities", "all"] = Field(
        "heldout", description="Rows queries come from: heldout = rows pre-training holds out (data.heldout) whose sentence "
                               "no training row shares; entities = mentions and subject-triples of held-out entities "
                               "(data.heldout_entities, zero-shot); all = every row, trained ones included (flagged).")
    heldout: float | None = Field(None, ge=0, lt=0.5, description="The held-out share of rows pre-training used; None = the "
                                                                   "checkpoint's data.heldout, else 0.02 (xlmk's default).")
    heldout_entities: float | None = Field(None, ge=0, lt=0.5, description="The held-out share of entities; None = the "
                                                                            "checkpoint's data.heldout_entities, else 0.02.")


class XepProbe(_DenseProbe):
    """Cross-lingual Entity Prediction (Appendix B): an entity-masked sentence picks its entity's description
    among N language-agnostic descriptions; accuracy@1, MRR, hits@10 per query language and on average."""

    kind: Literal["xep"] = "xep"
    mention_mask: Literal["span", "per-token"] | None = Field(
        None, description="span = the mention becomes one mask token (the query state is there); per-token = one mask per "
                          "sub-token, state at the first; None = as the checkpoint's heads were trained (heads.meta), else span.")


class XorProbe(_DenseProbe):
    """Cross-lingual Object Recognition (Appendix B): the subject's description plus the relation pick the
    object's description among N candidates; the same metrics as XEP."""

    kind: Literal["xor"] = "xor"
    use_relation: bool = Field(True, description="Add the checkpoint's relation embedding to the subject (Eq. 3); without one the subject is used alone.")
    filtered: bool = Field(False, description="Leave other true objects of (subject, relation) out of the ranking (the 'filtered' setting of KB completion).")


class CustomProbe(StrictModel):
    """Your own probe: target(model=, tokenizer=, device=, recipe=, out_dir=, **options) returns an iterable of
    dicts with metric, value and optionally subset, language, n, extra."""

    kind: Literal["custom"] = "custom"
    target: str = Field(description="Callable as 'package.module:attr'; imported only when run.")
    options: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments passed to the target.")
    version: int = Field(1, ge=1, description="Version of your probe, written into its result rows.")

    def load(self) -> Any:
        return import_target(self.target, where="probe.target")


ProbeSpec = Annotated[Union[LamaProbe, MLamaProbe, XepProbe, XorProbe, CustomProbe], Field(discriminator="kind")]


def probe_version(spec: Any) -> int:
    return spec.version if isinstance(spec, CustomProbe) else PROBE_VERSIONS[spec.kind]
