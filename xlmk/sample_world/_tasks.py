"""Evaluation and training samples made from the world, in their original layouts.

Corpus lines for MLM, LAMA T-REx and mLAMA probes, XNLI pairs, MLQA/SQuAD questions and WikiANN
NER sentences. All are made from the same rendered sentences as the Wikipedia articles (see
`_text.Seg`), so answers, masks and tags sit exactly where the entities are.
"""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from typing import Any

from ._seed import LANGUAGES, NER_TAGS, World
from ._text import Missing, Renderer, Seg, plain

FUNCTIONAL = ("P19", "P20", "P36", "P1376", "P17", "P159", "P103", "P30", "P37")
# A neutral hypothesis must not follow from the premise: it comes from another group of relations.
GROUP = {"P17": "place", "P30": "place", "P131": "place", "P1376": "place", "P36": "place", "P159": "place",
         "P47": "place", "P37": "language", "P103": "language", "P1412": "language", "P106": "work",
         "P101": "work", "P108": "work", "P69": "work"}
GENRES = ("facetoface", "fiction", "government", "letters", "nineeleven", "oup", "slate", "telephone",
          "travel", "verbatim")
XNLI_COLUMNS = ("language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
                "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre", "label1", "label2",
                "label3", "label4", "label5", "sentence1_tokenized", "sentence2_tokenized", "match")
LABELS = ("entailment", "neutral", "contradiction")
LAMA_PER_RELATION = 30


def _uuid(*parts) -> str:
    h = hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def tokens(text: str, lang: str) -> list:
    """Whitespace tokens with punctuation split off both ends; zh: one token per character."""
    if lang == "zh":
        return [ch for ch in text if not ch.isspace()]
    out = []
    for word in text.split():
        head, tail = [], []
        while word and _is_punct(word[0]):
            head.append(word[0])
            word = word[1:]
        while word and _is_punct(word[-1]):
            tail.insert(0, word[-1])
            word = word[:-1]
        out += head + ([word] if word else []) + tail
    return out


def tokenized(sentence: list, lang: str) -> str:
    if lang == "zh":  # segments are the natural word units of a zh sentence
        words = []
        for seg in sentence:
            run = ""
            for ch in seg.text:
                if _is_punct(ch) or ch.isspace():
                    words += [run] if run else []
                    words += [ch] if not ch.isspace() else []
                    run = ""
                else:
                    run += ch
            words += [run] if run else []
        return " ".join(words)
    return " ".join(t for seg in sentence for t in tokens(seg.text, lang))


def lama_template(claim: str, lang: str) -> str:
    text = claim.replace("[Y:dat]", "[Y]")
    if lang != "zh" and text[-1:] in ".।?":
        text = text[:-1].rstrip() + " " + text[-1]
    return text


def _dumps(obj) -> str:
    return json.dumps(obj)


# --- corpus -------------------------------------------------------------------------------------
def corpus(wikis: dict) -> dict:
    out = {}
    for lang, wiki in wikis.items():
        sentences = [plain(s) for doc in wiki.docs for para in doc.paragraphs for s in para]
        rng = random.Random(f"xlmk-sample-world/corpus/{lang}")
        keep = sorted(rng.sample(range(len(sentences)), min(300, len(sentences))))
        out[f"corpus/{lang}.txt"] = "".join(sentences[i] + "\n" for i in keep)
    return out


# --- LAMA and mLAMA -----------------------------------------------------------------------------
def lama_relations(world: World) -> list:
    rels = world.templates["relations"]
    return sorted((pid for pid, t in rels.items() if world.properties[pid].lama and
                   all(lang in t.get("claim", {}) for lang in LANGUAGES)), key=lambda p: int(p[1:]))


def lama(world: World, wikis: dict) -> dict:
    docs = {doc.qid: doc for doc in wikis["en"].docs}
    facts: dict = {}
    for pid in lama_relations(world):
        for ent in world.entities.values():
            doc = docs.get(ent.id)
            if doc is None:
                continue
            for obj in ent.values(pid):
                evidences = []
                for para in doc.paragraphs:
                    for sentence in para:
                        for i, seg in enumerate(sentence):
                            if seg.role == "object" and seg.qid == obj and seg.pid == pid:
                                masked = plain(sentence[:i]) + "[MASK]" + plain(sentence[i + 1:])
                                sub = next((s.text for s in sentence if s.role == "subject"), ent.labels["en"])
                                evidences.append({"sub_surface": sub, "obj_surface": seg.text,
                                                  "masked_sentence": masked})
                if evidences:
                    facts.setdefault(pid, []).append((ent.id, obj, evidences[:2]))
    rng = random.Random("xlmk-sample-world/lama")
    for pid, rows in facts.items():
        if len(rows) > LAMA_PER_RELATION:
            keep = sorted(rng.sample(range(len(rows)), LAMA_PER_RELATION))
            facts[pid] = [rows[i] for i in keep]
    out = {}
    relations = []
    for pid, rows in facts.items():
        prop = world.properties[pid]
        relations.append(_dumps({"relation": pid, "template": lama_template(world.templates["relations"][pid]["claim"]["en"], "en"),
                                 "label": prop.labels["en"], "description": prop.desc, "type": prop.lama}))
        out[f"lama/TREx/{pid}.jsonl"] = "".join(_dumps({
            "uuid": _uuid("lama", pid, s, o), "obj_uri": o, "obj_label": world.label(o, "en"), "sub_uri": s,
            "sub_label": world.label(s, "en"), "predicate_id": pid, "evidences": ev}) + "\n" for s, o, ev in rows)
    out["lama/relations.jsonl"] = "".join(line + "\n" for line in relations)
    for lang in LANGUAGES:
        templates = []
        for pid, rows in facts.items():
            lines = [(s, o) for s, o, _ in rows if world.label(s, lang) and world.label(o, lang)]
            if not lines:
                continue
            templates.append(_dumps({"relation": pid,
                                     "template": lama_template(world.templates["relations"][pid]["claim"][lang], lang)}))
            out[f"mlama/{lang}/{pid}.jsonl"] = "".join(_dumps({
                "sub_uri": s, "obj_uri": o, "obj_label": world.label(o, lang), "sub_label": world.label(s, lang),
                "lineid": i, "uuid": _uuid("lama", pid, s, o)}) + "\n" for i, (s, o) in enumerate(lines))
        out[f"mlama/{lang}/templates.jsonl"] = "".join(t + "\n" for t in templates)
    return out


# --- XNLI -----------------------------------------------------------------------------------------
def _claimable(world: World, ent) -> list:
    rels = world.templates["relations"]
    out = []
    for pid, t in rels.items():
        if not all(lang in t.get("claim", {}) and lang in t.get("text", {}) for lang in LANGUAGES):
            continue
        for obj in ent.current(pid):
            if all(world.label(obj, lang) for lang in LANGUAGES):
                out.append((pid, obj))
    return out


def _xnli_items(world: World, rng: random.Random) -> list:
    """(subject, fact A, fact B, neutral fact C, wrong object for A), one per premise."""
    full = [e for e in world.entities.values() if all(l in e.labels for l in LANGUAGES)]
    by_type: dict = {}
    for e in full:
        by_type.setdefault(e.type, []).append(e.id)
    items = []
    for ent in full:
        facts = _claimable(world, ent)
        pids = sorted({p for p, _ in facts})
        if len(pids) < 3:
            continue
        for a in [f for f in facts if f[0] in FUNCTIONAL and len(ent.current(f[0])) == 1][:2]:
            others = [f for f in facts if f[0] != a[0]]
            b = others[rng.randrange(len(others))]
            used = {GROUP.get(a[0], a[0]), GROUP.get(b[0], b[0])}
            rest = [f for f in others if GROUP.get(f[0], f[0]) not in used]
            if not rest:
                continue
            c = rest[rng.randrange(len(rest))]
            pool = [q for q in by_type[world.entities[a[1]].type] if q not in ent.values(a[0]) and q != ent.id]
            items.append((ent.id, a, b, c, pool[rng.randrange(len(pool))]))
    rng.shuffle(items)
    return items


def _render_fact(r: Renderer, world: World, subject: str, pid: str, obj: str, kind: str) -> list:
    ent = world.entities[subject]
    tpl = r.template("relations", pid, ent) if kind == "text" else world.templates["relations"][pid]["claim"][r.lang]
    return r.render(tpl, subject, [obj], pid)


def xnli(world: World) -> dict:
    rng = random.Random("xlmk-sample-world/xnli")
    items = _xnli_items(world, rng)
    renderers = {lang: Renderer(world, lang) for lang in LANGUAGES}
    rows = {"dev": [], "test": []}
    train = []
    prompt = 0
    for n, (subject, a, b, c, wrong) in enumerate(items[:120]):
        split = "dev" if n < 10 else "test" if n < 20 else "train"
        prompt += 1
        hyps = {"entailment": a, "neutral": c, "contradiction": (a[0], wrong)}
        genre = GENRES[n % len(GENRES)]
        for lang in (LANGUAGES if split != "train" else ("en",)):
            r = renderers[lang]
            premise = _render_fact(r, world, subject, *a, "text") + [Seg(world.lang[lang]["space"])] + \
                _render_fact(r, world, subject, *b, "text")
            for k, label in enumerate(LABELS):
                hyp = _render_fact(r, world, subject, *hyps[label], "claim")
                if split == "train":
                    train.append((tokenized(premise, lang), tokenized(hyp, lang),
                                  "contradictory" if label == "contradiction" else label))
                    continue
                votes = [label] * 5
                if rng.random() < 0.3:
                    votes[1 + rng.randrange(4)] = LABELS[(k + 1 + rng.randrange(2)) % 3]
                rows[split].append([lang, label, "", "", "", "", plain(premise), plain(hyp), str(prompt),
                                    str(prompt * 3 + k), genre, *votes, tokenized(premise, lang),
                                    tokenized(hyp, lang), "True"])
    out = {}
    for split, lines in rows.items():
        lines.sort(key=lambda row: (row[0], int(row[9])))
        out[f"xnli/XNLI-1.0/xnli.{split}.tsv"] = "\t".join(XNLI_COLUMNS) + "\n" + "".join("\t".join(r) + "\n" for r in lines)
    rng.shuffle(train)
    out["xnli/XNLI-MT-1.0/multinli/multinli.train.en.tsv"] = "premise\thypo\tlabel\n" + \
        "".join("\t".join(r) + "\n" for r in train)
    return out


# --- MLQA and SQuAD -------------------------------------------------------------------------------
def _qas(world: World, r: Renderer, doc, paragraph: list, max_q: int) -> tuple:
    """(context, [(question, answer, start)]) for one paragraph."""
    rel_q = {p: t["question"] for p, t in world.templates["relations"].items() if "question" in t}
    val_q = {p: t["question"] for p, t in world.templates["values"].items() if "question" in t}
    space = world.lang[r.lang]["space"]
    context, qas, offset = "", [], 0
    for k, sentence in enumerate(paragraph):
        if k:
            context += space
            offset += len(space)
        objects = [s.pid for s in sentence if s.role == "object"]
        for seg in sentence:
            table = rel_q if seg.role == "object" else val_q if seg.role == "value" else {}
            if seg.pid in table and r.lang in table[seg.pid] and objects.count(seg.pid) <= 1 and len(qas) < max_q:
                try:
                    question = plain(r.render(table[seg.pid][r.lang], doc.qid))
                except Missing:
                    question = None
                if question and all(q != question for q, _, _ in qas):
                    qas.append((question, seg.text, offset))
            offset += len(seg.text)
            context += seg.text
    for _, answer, start in qas:
        assert context[start:start + len(answer)] == answer, (context, answer, start)
    return context, qas


def _squad(world: World, r: Renderer, docs: list, quota: int, max_q: int, tag: str, squad: bool) -> list:
    data, count = [], 0
    for doc in docs:
        if count >= quota:
            break
        paragraphs = []
        for para in doc.paragraphs[:doc.lead]:
            context, qas = _qas(world, r, doc, para, min(max_q, quota - count))
            if not qas:
                continue
            count += len(qas)
            items = []
            for question, answer, start in qas:
                h = hashlib.sha1(f"{tag}|{doc.qid}|{question}".encode()).hexdigest()
                answers = [{"answer_start": start, "text": answer}] if squad else [{"text": answer, "answer_start": start}]
                items.append({"answers": answers, "question": question, "id": h[:24]} if squad else
                             {"question": question, "answers": answers, "id": h})
            paragraphs.append({"context": context, "qas": items})
            if count >= quota:
                break
        if paragraphs:
            data.append({"title": doc.title.replace(" ", "_") if squad else doc.title, "paragraphs": paragraphs})
    return data


def qa_order(world: World) -> tuple:
    """(entities in a seeded order, dev entities, test entities) of the QA samples; the rest train."""
    rng = random.Random("xlmk-sample-world/mlqa")
    order = [e.id for e in world.entities.values() if e.type in ("person", "city", "country", "company")]
    rng.shuffle(order)
    return order, set(order[0::4]), set(order[1::4])


def qa_docs(wiki: Any, order: list) -> list:
    """The wiki's documents about the QA entities, in the seeded order of `qa_order`."""
    rank = {qid: i for i, qid in enumerate(order)}
    return sorted((d for d in wiki.docs if d.qid in rank), key=lambda d: rank[d.qid])


def mlqa(world: World, wikis: dict) -> dict:
    order, dev_ids, test_ids = qa_order(world)
    out = {}
    for lang, wiki in wikis.items():
        r = Renderer(world, lang)
        docs = qa_docs(wiki, order)
        for split, ids in (("dev", dev_ids), ("test", test_ids)):
            data = _squad(world, r, [d for d in docs if d.qid in ids], 20, 2, f"{split}/{lang}", False)
            out[f"mlqa/{split}/{split}-context-{lang}-question-{lang}.json"] = json.dumps({"version": 1.0, "data": data})
        if lang == "en":
            rest = [d for d in docs if d.qid not in dev_ids and d.qid not in test_ids]
            data = _squad(world, r, rest, 150, 3, "train/en", True)
            out["mlqa/squad/train-v1.1.json"] = json.dumps({"data": data, "version": "1.1"})
    return out


# --- NER ----------------------------------------------------------------------------------------
def _ner_sentence(world: World, sentence: list, lang: str) -> list:
    rows = []
    for seg in sentence:
        toks = tokens(seg.text, lang)
        tag = NER_TAGS.get(world.entities[seg.qid].type) if seg.qid and seg.role in ("subject", "object") else None
        for i, tok in enumerate(toks):
            rows.append((tok, f"{'B' if i == 0 else 'I'}-{tag}" if tag else "O"))
    return rows


def _ner_pick(world: World, docs: list, quota: int, lang: str) -> list:
    out = []
    for doc in docs:
        taken = 0
        for para in doc.paragraphs:
            for sentence in para:
                rows = _ner_sentence(world, sentence, lang)
                if taken < 2 and len(out) < quota and any(tag != "O" for _, tag in rows):
                    out.append(rows)
                    taken += 1
    return out


def ner(world: World, wikis: dict) -> dict:
    rng = random.Random("xlmk-sample-world/ner")
    order = list(world.entities)
    rng.shuffle(order)
    split_of = {qid: ("dev", "test", "train", "train")[i % 4] for i, qid in enumerate(order)}
    out = {}
    for lang, wiki in wikis.items():
        docs = sorted(wiki.docs, key=lambda d: order.index(d.qid))
        for split, quota in (("train", 300), ("dev", 30), ("test", 30)):
            if split == "train" and lang != "en":
                continue
            sentences = _ner_pick(world, [d for d in docs if split_of[d.qid] == split], quota, lang)
            out[f"ner/wikiann/{lang}/{split}"] = "".join(
                "".join(f"{lang}:{tok}\t{tag}\n" for tok, tag in rows) + "\n" for rows in sentences)
    return out
