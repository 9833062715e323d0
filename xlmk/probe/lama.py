"""Readers for LAMA's original layout and for mLAMA's, and the coverage report both share.

LAMA (`data/`): `Google_RE/{relation}_test.jsonl`, `TREx/{relation}.jsonl` with `relations.jsonl`
(templates and relation types), `ConceptNet/test.jsonl` and `Squad/test.jsonl` (facts carrying their own
`masked_sentences`). mLAMA: `{lang}/{relation}.jsonl` and `{lang}/templates.jsonl`.

A reader turns every line into a `Fact` whose sentences hold `[MASK]` where the object goes, or drops
it with a reason counted in `Coverage` (never silently). Model-dependent filters (the object must be one
token, be in the common vocabulary) run later, in `cloze.py`, and count into the same report.
"""
from __future__ import annotations

import collections
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from xlmk.config import load_table
from xlmk.errors import DataError

MASK = "[MASK]"  # LAMA's placeholder; replaced by the model's own mask token when scoring


@dataclass
class Fact:
    """One cloze query: sentences with `[MASK]` where the object goes."""

    corpus: str                 # Google_RE, TREx, ConceptNet, Squad or mLAMA
    relation: str               # P19, place_of_birth, or the file stem for ConceptNet/SQuAD
    language: str
    subject: str
    object: str
    sentences: list[str]
    uid: str
    source: str                 # path:line, for error analysis
    templated: bool = True
    meta: dict[str, Any] = field(default_factory=dict)


class Coverage:
    """Facts read, kept, and dropped by reason, per (corpus, relation, language)."""

    def __init__(self) -> None:
        self.read: collections.Counter = collections.Counter()
        self.kept: collections.Counter = collections.Counter()
        self.dropped: dict[tuple, collections.Counter] = collections.defaultdict(collections.Counter)
        self.notes: dict[tuple, list[str]] = collections.defaultdict(list)

    @staticmethod
    def key(corpus: str, relation: str, language: str) -> tuple[str, str, str]:
        return (corpus, relation, language)

    def add_read(self, key: tuple, n: int = 1) -> None:
        self.read[key] += n

    def drop(self, key: tuple, reason: str, n: int = 1) -> None:
        self.dropped[key][reason] += n

    def note(self, key: tuple, text: str) -> None:
        if text not in self.notes[key]:
            self.notes[key].append(text)

    def set_kept(self, key: tuple, n: int) -> None:
        self.kept[key] = n

    def keys(self) -> list[tuple]:
        return sorted(set(self.read) | set(self.kept) | set(self.dropped) | set(self.notes))

    def entry(self, key: tuple) -> dict[str, Any]:
        out: dict[str, Any] = {"read": self.read[key], "kept": self.kept[key], "dropped": dict(self.dropped.get(key, {}))}
        if self.notes.get(key):
            out["notes"] = list(self.notes[key])
        return out

    def totals(self) -> dict[str, Any]:
        dropped: collections.Counter = collections.Counter()
        for c in self.dropped.values():
            dropped.update(c)
        return {"read": sum(self.read.values()), "kept": sum(self.kept.values()), "dropped": dict(dropped)}

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.totals(),
                "by_relation": [{"corpus": k[0], "relation": k[1], "language": k[2], **self.entry(k)} for k in self.keys()]}


# ---------------------------------------------------------------- files
def read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-empty line; a bad line is an error naming file and line."""
    try:
        fh = open(path, "rb")  # bytes, so that text that is not UTF-8 is reported at its byte offset
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path=path) from None
    with fh:
        offset = 0
        for i, raw in enumerate(fh, 1):
            line = _decode(raw, path, i, offset)
            offset += len(raw)
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg}", path=path, line=i) from None
            if not isinstance(obj, dict):
                raise DataError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=i)
            yield i, obj


def _decode(raw: bytes, path: Path, line: int | None, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text at byte offset {offset + exc.start} ({exc.reason}); LAMA and mLAMA files "
                        "are UTF-8", path=path, line=line) from None


def fill_template(template: str, subject: str) -> str:
    """LAMA's parse_template: [X] -> subject, [Y] -> the mask placeholder."""
    return template.replace("[X]", subject.strip()).replace("[Y]", MASK)


def _labels(obj: dict) -> tuple[str | None, str | None]:
    sub, o = obj.get("sub_label"), obj.get("obj_label")
    return (sub if isinstance(sub, str) and sub.strip() else None, o if isinstance(o, str) and o.strip() else None)


def _more_no_than_yes(obj: dict) -> bool:
    """Google-RE: a fact whose raters said 'no' more often than 'yes' is dropped (LAMA's filter)."""
    judgments = obj.get("judgments") or []
    yes = sum(1 for j in judgments if j.get("judgment") == "yes")
    return len(judgments) - yes > yes


# ---------------------------------------------------------------- LAMA
def trex_relations(path: Path) -> dict[str, dict]:
    """relations.jsonl: {relation: {template, label, type, …}}."""
    out: dict[str, dict] = {}
    for line, obj in read_jsonl(path):
        rel = obj.get("relation")
        if not isinstance(rel, str):
            raise DataError("missing key 'relation'", path=path, line=line)
        out[rel] = obj
    return out


def read_lama(data_dir: Path, corpora: list[str], coverage: Coverage, *, relations_file: str = "relations.jsonl",
              relations: list[str] | None = None, lowercase: bool = False, max_sentence_words: int = 100) -> tuple[list[Fact], dict[str, dict]]:
    """All facts of the chosen LAMA corpora, and per corpus {relation: info} (label, type, template)."""
    table = load_table("lama_corpora")["corpora"]
    facts: list[Fact] = []
    infos: dict[str, dict] = {}
    for corpus in corpora:
        spec = table[corpus]
        folder = data_dir / corpus
        if not folder.is_dir():
            raise DataError(f"no {corpus}/ folder; set probe.corpora to the corpora you have", path=data_dir)
        if spec.get("relations_from_file"):
            rel_path = Path(relations_file) if Path(relations_file).is_absolute() else data_dir / relations_file
            if not rel_path.is_file():
                raise DataError("T-REx needs its relations file (templates and types); set probe.relations_file", path=rel_path)
            rel_info = trex_relations(rel_path)
            listed = {r: {"label": i.get("label", r), "type": i.get("type"), "template": i.get("template")} for r, i in rel_info.items()}
            found = {p.stem for p in folder.glob(spec["file"].format(relation="*"))}
            info = {r: listed.get(r, {"label": r, "type": None, "template": None}) for r in sorted(set(listed) | found)}
        elif "relations" in spec:
            info = {r["relation"]: {"label": r["label"], "type": None, "template": r["template"]} for r in spec["relations"]}
        else:  # one file of masked sentences, which LAMA scores as a single relation
            stem = Path(spec["file"]).stem
            info = {stem: {"label": "Total", "type": None, "template": None}}
        if relations is not None:
            info = {r: i for r, i in info.items() if r in relations}
        infos[corpus] = info
        for rel, rinfo in info.items():
            path = folder / spec["file"].format(relation=rel)
            key = coverage.key(corpus, rel, "en")
            if not path.is_file():
                coverage.note(key, f"no data file {path.name} (relation skipped, as LAMA does)")
                continue
            facts += _read_lama_file(path, corpus, rel, rinfo["template"], key, coverage, spec.get("template", "") is None,
                                     lowercase, max_sentence_words)
    return facts, infos


def _read_lama_file(path: Path, corpus: str, rel: str, template: str | None, key: tuple, coverage: Coverage,
                    masked: bool, lowercase: bool, max_words: int) -> list[Fact]:
    out = []
    for line, obj in read_jsonl(path):
        coverage.add_read(key)
        sub, o = _labels(obj)
        if masked and sub is None:
            # the sentences carry the subject; ConceptNet's negated-LAMA release names it `sub`
            sub = obj.get("sub") if isinstance(obj.get("sub"), str) else ""
        if sub is None or o is None:
            coverage.drop(key, "no subject or object label")
            continue
        if lowercase:
            sub, o = sub.lower(), o.lower()
        if masked:
            sentences = obj.get("masked_sentences")
            if not isinstance(sentences, list) or not sentences or not all(isinstance(s, str) for s in sentences):
                raise DataError("expected 'masked_sentences' (a list of strings)", path=path, line=line)
            if lowercase:
                sentences = [s.lower().replace(MASK.lower(), MASK) for s in sentences]
            if len(" ".join(sentences).split()) > max_words:
                coverage.drop(key, f"longer than {max_words} words")
                continue
            if len(sentences) > 2:
                coverage.drop(key, "more than two masked sentences")
                continue
            if MASK not in " ".join(sentences):
                coverage.drop(key, "no [MASK] in the sentence")
                continue
        elif template is None:
            coverage.drop(key, "template missing")
            continue
        else:
            sentences = [fill_template(template, sub)]
        if "judgments" in obj and _more_no_than_yes(obj):
            coverage.drop(key, "more raters said no than yes")
            continue
        uid = str(obj.get("uuid") or obj.get("id") or f"{path.name}:{line}")
        out.append(Fact(corpus, rel, "en", sub, o, sentences, uid, f"{path}:{line}", templated=not masked,
                        meta={"pred": obj.get("pred")} if obj.get("pred") else {}))
    return out


# ---------------------------------------------------------------- mLAMA
def mlama_languages(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if (p / "templates.jsonl").is_file())


def read_mlama(data_dir: Path, languages: list[str] | None, coverage: Coverage, *,
               relations: list[str] | None = None) -> tuple[list[Fact], dict[str, dict[str, str]]]:
    """All facts of the chosen languages, and {lang: {relation: template}}."""
    available = mlama_languages(data_dir)
    if not available:
        raise DataError("no language folder with a templates.jsonl (expected {lang}/templates.jsonl)", path=data_dir)
    langs = languages or available
    missing = [lang for lang in langs if lang not in available]
    if missing:
        raise DataError(f"no mLAMA data for {', '.join(missing)} (available: {', '.join(available)})", path=data_dir)
    facts: list[Fact] = []
    templates: dict[str, dict[str, str]] = {}
    for lang in langs:
        folder = data_dir / lang
        tpl: dict[str, str] = {}
        for line, obj in read_jsonl(folder / "templates.jsonl"):
            if not isinstance(obj.get("relation"), str) or not isinstance(obj.get("template"), str):
                raise DataError("expected 'relation' and 'template'", path=folder / "templates.jsonl", line=line)
            tpl[obj["relation"]] = obj["template"]
        templates[lang] = tpl
        for path in sorted(folder.glob("*.jsonl")):
            rel = path.stem
            if rel == "templates" or (relations is not None and rel not in relations):
                continue
            key = coverage.key("mLAMA", rel, lang)
            template = tpl.get(rel)
            for line, obj in read_jsonl(path):
                coverage.add_read(key)
                sub, o = _labels(obj)
                if sub is None or o is None:
                    coverage.drop(key, "no subject or object label")
                elif template is None:
                    coverage.drop(key, "template missing")
                elif "[X]" not in template or "[Y]" not in template:
                    coverage.drop(key, "template lacks [X] or [Y]")
                elif obj.get("from_english"):
                    coverage.drop(key, "object not translated (from_english)")
                else:
                    uid = str(obj.get("uuid") or f"{path.name}:{line}")
                    facts.append(Fact("mLAMA", rel, lang, sub, o, [fill_template(template, sub)], uid, f"{path}:{line}",
                                      meta={"template": template}))
    return facts, templates


def read_candidates(patterns: list[str], data_dir: Path, lang: str) -> dict[str, list[str]]:
    """{relation: objects} merged from mLAMA candidate files ({relation: {"objects": [...]}})."""
    out: dict[str, list[str]] = {}
    for pattern in patterns:
        p = Path(pattern.format(lang=lang)).expanduser()
        path = p if p.is_absolute() else data_dir / p
        if not path.is_file():
            raise DataError(f"no candidate file for language {lang!r} (pattern {pattern!r})", path=path)
        try:
            data = json.loads(_decode(path.read_bytes(), path, None, 0))
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
        if not isinstance(data, dict):
            raise DataError("expected {relation: {objects: [...]}}", path=path)
        for rel, entry in data.items():
            objects = entry.get("objects") if isinstance(entry, dict) else entry
            if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
                raise DataError(f"relation {rel!r}: expected a list of object strings", path=path)
            out.setdefault(rel, [])
            out[rel] += objects
    return out
