"""XTREME's other tasks made from the world, each in its release layout.

- PAWS-X (`pawsx/x-final/{lang}/…`, en de es zh): a fact's sentence paired with its claim (paraphrase,
  1) or with the claim about a wrong object (0); English train, translated train for the others.
- XQuAD (`xquad/xquad.{lang}.json`, all 7 languages) with SQuAD dev for selection (`xquad/squad/`);
  training uses the SQuAD sample under `mlqa/squad/`.
- TyDiQA-GoldP (`tydiqa/…`, en ar): one train file with `<language>-<hash>-<n>` ids, dev per language.
- UD-POS (`udpos/ud-treebanks-v2.5/UD_<Lang>-Sample/…`, CoNLL-U, all 7 languages): the article
  sentences' tokens; entity names PROPN, punctuation PUNCT, numbers NUM, a short closed-class list per
  language, and other words a tag fixed per word form (deterministic, learnable, not linguistics).
  Spanish `del`/`al` and German `im`/`zum` are written as multiword tokens, as UD does.
- BUCC (`bucc2018/{l}-en/…`, de zh) and Tatoeba (`tatoeba/tatoeba.{xxx}-eng.*`, ar de es hi vi zh):
  claims rendered in two languages are translations of each other; BUCC adds unpaired sentences.
"""

from __future__ import annotations

import hashlib
import json
import random

from ._seed import LANGUAGES, World
from ._tasks import _claimable, _render_fact, _squad, _xnli_items, plain, qa_docs, qa_order, tokens
from ._text import Renderer

PAWSX_LANGUAGES = ("en", "de", "es", "zh")
TYDIQA_NAMES = {"en": "english", "ar": "arabic"}
BUCC_LANGUAGES = ("de", "zh")
ISO3 = {"ar": "ara", "de": "deu", "es": "spa", "hi": "hin", "vi": "vie", "zh": "cmn"}
UD_NAMES = {"en": "English", "de": "German", "es": "Spanish", "ar": "Arabic", "hi": "Hindi", "vi": "Vietnamese",
            "zh": "Chinese"}
CLOSED = {
    "en": {"the": "DET", "a": "DET", "an": "DET", "of": "ADP", "in": "ADP", "on": "ADP", "at": "ADP", "to": "ADP",
           "from": "ADP", "by": "ADP", "and": "CCONJ", "is": "AUX", "was": "AUX", "are": "AUX", "he": "PRON",
           "she": "PRON", "it": "PRON", "his": "PRON", "her": "PRON", "its": "PRON"},
    "de": {"der": "DET", "die": "DET", "das": "DET", "ein": "DET", "eine": "DET", "in": "ADP", "von": "ADP",
           "mit": "ADP", "und": "CCONJ", "ist": "AUX", "war": "AUX", "er": "PRON", "sie": "PRON", "es": "PRON"},
    "es": {"el": "DET", "la": "DET", "los": "DET", "las": "DET", "un": "DET", "una": "DET", "de": "ADP",
           "en": "ADP", "con": "ADP", "y": "CCONJ", "es": "AUX", "fue": "AUX", "era": "AUX"},
}
# UD writes these as one surface token over two syntactic words
MULTIWORD = {"es": {"del": ("de", "el"), "al": ("a", "el")}, "de": {"im": ("in", "dem"), "zum": ("zu", "dem")}}
OPEN = ("NOUN", "VERB", "ADJ", "ADV", "NOUN", "VERB", "NOUN")


def _h(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


# --- PAWS-X ---------------------------------------------------------------------------------------
def pawsx(world: World) -> dict:
    rng = random.Random("xlmk-sample-world/pawsx")
    items = _xnli_items(world, rng)[:100]
    renderers = {lang: Renderer(world, lang) for lang in PAWSX_LANGUAGES}
    out = {}
    for lang in PAWSX_LANGUAGES:
        r = renderers[lang]
        rows: dict = {"dev_2k": [], "test_2k": [], "train": []}
        for n, (subject, a, _b, _c, wrong) in enumerate(items):
            split = "dev_2k" if n < 10 else "test_2k" if n < 20 else "train"
            if split == "train" and lang != "en" and n >= 60:
                continue  # the translated training sets are smaller, as in the release
            text = plain(_render_fact(r, world, subject, *a, "text"))
            pairs = [(plain(_render_fact(r, world, subject, *a, "claim")), "1"),
                     (plain(_render_fact(r, world, subject, a[0], wrong, "claim")), "0")]
            if rng.random() < 0.5:
                pairs.reverse()
            for k, (claim, label) in enumerate(pairs):
                first, second = (text, claim) if (n + k) % 2 == 0 else (claim, text)
                rows[split].append(f"{2 * n + k + 1}\t{first}\t{second}\t{label}")
        for split, lines in rows.items():
            name = split if split != "train" else "train" if lang == "en" else "translated_train"
            out[f"pawsx/x-final/{lang}/{name}.tsv"] = "id\tsentence1\tsentence2\tlabel\n" + "\n".join(lines)
    return out


# --- XQuAD and TyDiQA-GoldP -----------------------------------------------------------------------
def xquad(world: World, wikis: dict) -> dict:
    order, dev_ids, test_ids = qa_order(world)
    out = {}
    for lang, wiki in wikis.items():
        r = Renderer(world, lang)
        docs = qa_docs(wiki, order)
        data = _squad(world, r, [d for d in docs if d.qid in test_ids], 16, 2, f"xquad/{lang}", True)
        for article in data:
            article.pop("title")
        out[f"xquad/xquad.{lang}.json"] = json.dumps({"data": data, "version": "1.1"}, ensure_ascii=False)
        if lang == "en":
            data = _squad(world, r, [d for d in docs if d.qid in dev_ids], 20, 2, "squad-dev/en", True)
            out["xquad/squad/dev-v1.1.json"] = json.dumps({"data": data, "version": "1.1"})
    return out


def tydiqa(world: World, wikis: dict) -> dict:
    order, dev_ids, test_ids = qa_order(world)
    train_data = []
    out = {}
    for lang, name in TYDIQA_NAMES.items():
        r = Renderer(world, lang)
        docs = qa_docs(wikis[lang], order)
        rest = [d for d in docs if d.qid not in dev_ids and d.qid not in test_ids]
        for split, chosen, quota in (("train", rest, 60 if lang == "en" else 30), ("dev", [d for d in docs if d.qid in test_ids], 16)):
            data = _squad(world, r, chosen, quota, 2, f"tydiqa/{split}/{lang}", True)
            for article in data:
                for p in article["paragraphs"]:
                    for n, qa in enumerate(p["qas"]):
                        h = int(qa["id"][:15], 16) - (1 << 59)  # a signed hash, as TyDiQA's (some negative)
                        qa["id"] = f"{name}-{h}-{n}"
            if split == "train":
                train_data += data
            else:
                out[f"tydiqa/tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json"] = json.dumps(
                    {"data": data, "version": "TyDiQA-GoldP-1.1-for-SQuAD-1.1"}, ensure_ascii=False)
    out["tydiqa/tydiqa-goldp-v1.1-train.json"] = json.dumps(
        {"data": train_data, "version": "TyDiQA-GoldP-1.1-for-SQuAD-1.1"}, ensure_ascii=False)
    return out


# --- UD-POS ---------------------------------------------------------------------------------------
def _pos(word: str, lang: str) -> str:
    if all(not ch.isalnum() for ch in word):
        return "PUNCT"
    if any(ch.isdigit() for ch in word):
        return "NUM"
    closed = CLOSED.get(lang, {}).get(word.lower())
    return closed or OPEN[int(_h("pos", lang, word.lower())[:6], 16) % len(OPEN)]


def _conllu_sentence(world: World, sentence: list, lang: str, sent_id: str) -> str:
    lines = [f"# sent_id = {sent_id}", f"# text = {plain(sentence)}"]
    wid = 0
    for seg in sentence:
        entity = seg.qid is not None and seg.role in ("subject", "object")
        for tok in tokens(seg.text, lang):
            fused = MULTIWORD.get(lang, {}).get(tok.lower()) if not entity else None
            if fused:
                lines.append(f"{wid + 1}-{wid + 2}\t{tok}\t_\t_\t_\t_\t_\t_\t_\t_")
                lines.append(f"{wid + 1}\t{fused[0]}\t{fused[0]}\tADP\t_\t_\t{0 if wid == 0 else 1}\t{'root' if wid == 0 else 'case'}\t_\t_")
                lines.append(f"{wid + 2}\t{fused[1]}\t{fused[1]}\tDET\t_\t_\t{wid + 1}\tdet\t_\t_")
                wid += 2
                continue
            wid += 1
            tag = "PUNCT" if _pos(tok, lang) == "PUNCT" else "PROPN" if entity else _pos(tok, lang)
            lines.append(f"{wid}\t{tok}\t{tok}\t{tag}\t_\t_\t{0 if wid == 1 else 1}\t{'root' if wid == 1 else 'dep'}\t_\t_")
    return "\n".join(lines) + "\n\n"


def udpos(world: World, wikis: dict) -> dict:
    rng = random.Random("xlmk-sample-world/udpos")
    order = list(world.entities)
    rng.shuffle(order)
    split_of = {qid: ("dev", "test", "train", "train")[i % 4] for i, qid in enumerate(order)}
    out = {}
    for lang, wiki in wikis.items():
        taken: dict = {"train": [], "dev": [], "test": []}
        quota = {"train": 150 if lang == "en" else 0, "dev": 20, "test": 20}
        for doc in sorted(wiki.docs, key=lambda d: order.index(d.qid)):
            split = split_of[doc.qid]
            sentences = [s for para in doc.paragraphs for s in para]
            # the first two sentences, or those with a multiword token first, so the conversion is exercised
            fused = [s for s in sentences if any(t.lower() in MULTIWORD.get(lang, {}) for seg in s
                                                 for t in tokens(seg.text, lang))]
            for sentence in (fused + [s for s in sentences if s not in fused])[:2]:
                if len(taken[split]) < quota[split]:
                    taken[split].append(_conllu_sentence(world, sentence, lang, f"{doc.qid}-{len(taken[split]) + 1}"))
        folder = f"udpos/ud-treebanks-v2.5/UD_{UD_NAMES[lang]}-Sample"
        for split, sentences in taken.items():
            if sentences:
                out[f"{folder}/{lang}_sample-ud-{split}.conllu"] = "".join(sentences)
    return out


# --- BUCC and Tatoeba -----------------------------------------------------------------------------
def _parallel_claims(world: World, rng: random.Random) -> list:
    """Facts (subject, pid, object) whose claim renders in every language, each sentence distinct."""
    facts = []
    for ent in sorted(world.entities.values(), key=lambda e: e.id):
        if all(lang in ent.labels for lang in LANGUAGES):
            facts += [(ent.id, pid, obj) for pid, obj in _claimable(world, ent)]
    rng.shuffle(facts)
    renderers = {lang: Renderer(world, lang) for lang in LANGUAGES}
    seen: dict = {lang: set() for lang in LANGUAGES}
    out = []
    for subject, pid, obj in facts:
        texts = {lang: plain(_render_fact(renderers[lang], world, subject, pid, obj, "claim")) for lang in LANGUAGES}
        if any(texts[lang] in seen[lang] for lang in LANGUAGES):
            continue
        for lang in LANGUAGES:
            seen[lang].add(texts[lang])
        out.append(texts)
    return out


def bucc(world: World) -> dict:
    rng = random.Random("xlmk-sample-world/bucc")
    claims = _parallel_claims(world, rng)
    out = {}
    for lang in BUCC_LANGUAGES:
        pool = claims[:]
        rng.shuffle(pool)
        start = 0
        for split, pairs, extra in (("sample", 15, 8), ("training", 40, 20)):
            chosen = pool[start:start + pairs + 2 * extra]
            start += pairs + 2 * extra
            src = [c[lang] for c in chosen[:pairs]] + [c[lang] for c in chosen[pairs:pairs + extra]]
            trg = [c["en"] for c in chosen[:pairs]] + [c["en"] for c in chosen[pairs + extra:]]
            src_ids = rng.sample(range(1, 1_000_000_000), len(src))
            trg_ids = rng.sample(range(1, 1_000_000_000), len(trg))
            gold = [f"{lang}-{src_ids[i]:09d}\ten-{trg_ids[i]:09d}" for i in range(pairs)]
            src_lines = sorted(zip(src_ids, src))
            trg_lines = sorted(zip(trg_ids, trg))
            prefix = f"bucc2018/{lang}-en/{lang}-en.{split}"
            out[f"{prefix}.{lang}"] = "".join(f"{lang}-{i:09d}\t{s}\n" for i, s in src_lines)
            out[f"{prefix}.en"] = "".join(f"en-{i:09d}\t{s}\n" for i, s in trg_lines)
            out[f"{prefix}.gold"] = "\n".join(sorted(gold))
    return out


def tatoeba(world: World) -> dict:
    rng = random.Random("xlmk-sample-world/tatoeba")
    claims = _parallel_claims(world, rng)
    out = {}
    for lang, iso in ISO3.items():
        chosen = rng.sample(claims, min(40, len(claims)))
        out[f"tatoeba/tatoeba.{iso}-eng.{iso}"] = "".join(c[lang] + "\n" for c in chosen)
        out[f"tatoeba/tatoeba.{iso}-eng.eng"] = "".join(c["en"] + "\n" for c in chosen)
    return out


def all_tasks(world: World, wikis: dict) -> dict:
    return {**pawsx(world), **xquad(world, wikis), **tydiqa(world, wikis), **udpos(world, wikis), **bucc(world),
            **tatoeba(world)}

