"""Generate the bundled sample world from the seed tables.

    python -m xlmk.sample_world.generate [--out DIR]

Writes the Wikidata slice, one Wikipedia dump per language, the MLM corpus, LAMA/mLAMA probes,
XNLI, MLQA/SQuAD, WikiANN and XTREME's other tasks' samples, `expected_knowledge.json` (ground truth from the seed) and
`MANIFEST.json` ({path: sha256} of every other file). Only seeded `random.Random` instances are
used, so every run writes the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from . import DATA_DIR, LANGUAGES, SEED_DIR
from . import _mediawiki, _seed, _tasks, _wikidata, _wikipedia, _xtreme

VERSION = 1
DEFINITIONS = {
    "titles": "(lang, title) -> QID pairs from the sitelinks of site {lang}wiki (Wikipedia sites only)",
    "titles_other_wikipedias": "the same for Wikipedias without a dump here (frwiki; zh_yuewiki is language zh-yue)",
    "descriptions": "namespace-0, non-redirect pages whose title maps to a QID (one per QID and language)",
    "mentions": "[[links]] in namespace-0, non-redirect pages, outside templates, <ref>s and comments, not "
                "File/Image/Category/interlanguage/interwiki, whose target (HTML entities and percent-encoding "
                "decoded, underscores to spaces, #section dropped, first letter upper-cased, redirects followed) "
                "maps to a QID",
    "unresolved_links": "the same kind of links whose target maps to no QID (red links, a redirect loop, a page "
                        "without an item)",
    "triples": "statements of items whose mainsnak is snaktype value, datatype wikibase-item, rank not deprecated",
    "relations": "property entities in the dump",
    "mention_samples": "single links: exact anchor text, page, target as written, QID and the sentence holding it "
                       "(as generated; the anchor occurs in it)",
}


def _samples(world, wikis: dict) -> list:
    """A handful of counted links per language: the first of each kind, with its sentence."""
    wanted = ("plain", "piped", "lower", "lcfirst", "underscore", "percent", "entity", "section", "redirect",
              "section_redirect", "site_collision")
    out = []
    for lang in LANGUAGES:
        seen = set()
        for link in wikis[lang].links:
            counted = link.ns == 0 and link.where == "body" and link.qid is not None
            key = link.variant
            if counted and key not in seen and key in wanted and \
                    (not link.in_list or key in ("section_redirect", "site_collision")):
                seen.add(key)
                out.append({"lang": lang, "page": link.page, "anchor": link.anchor, "target": link.target,
                            "qid": link.qid, "kind": key, "sentence": link.sentence})
    return out


def expected_knowledge(world, wikis: dict) -> dict:
    redirect_pages = {lang: [p for p in wikis[lang].pages if p.redirect is not None] for lang in LANGUAGES}
    counted = {lang: [k for k in wikis[lang].links if k.ns == 0 and k.where == "body"] for lang in LANGUAGES}
    triples = _wikidata.triples(world)
    ents = world.entities.values()
    return {
        "version": VERSION,
        "definitions": DEFINITIONS,
        "languages": list(LANGUAGES),
        "items": len(world.entities),
        "relations": len(world.properties),
        "item_relations": sum(p.datatype == "wikibase-item" for p in world.properties.values()),
        "titles": {lang: len(world.titles[lang]) for lang in LANGUAGES},
        "titles_other_wikipedias": {"fr": sum("frwiki" in e.sitelinks for e in ents),
                                    "zh-yue": sum("zh_yuewiki" in e.sitelinks for e in ents)},
        "descriptions": {lang: sum(lang in e.pages for e in ents) for lang in LANGUAGES},
        "mentions": {lang: sum(k.qid is not None for k in counted[lang]) for lang in LANGUAGES},
        "unresolved_links": {lang: sum(k.qid is None for k in counted[lang]) for lang in LANGUAGES},
        "triples": sum(triples.values()),
        "triples_by_relation": triples,
        "pages": {lang: {"articles": sum(1 for p in wikis[lang].pages if p.ns == 0 and p.redirect is None),
                         "redirects": len(redirect_pages[lang]),
                         "other_namespaces": sum(1 for p in wikis[lang].pages if p.ns != 0)} for lang in LANGUAGES},
        "mention_samples": _samples(world, wikis),
        "edge_cases": {
            "deprecated": sorted({e.id for e in ents for s in e.statements if s.rank == "deprecated"}),
            "preferred": sorted({e.id for e in ents for s in e.statements if s.rank == "preferred"}),
            "novalue": sorted({e.id for e in ents for s in e.statements if s.snaktype == "novalue"}),
            "somevalue": sorted({e.id for e in ents for s in e.statements if s.snaktype == "somevalue"}),
            "sitelink_without_page": {lang: sorted(e.id for e in ents if f"{lang}wiki" in e.sitelinks
                                                   and lang not in e.pages) for lang in LANGUAGES},
            "items_without_sitelinks": sorted(e.id for e in ents if not any(s.endswith("wiki") and s[:-4] in
                                                                           _seed.LABEL_LANGUAGES for s in e.sitelinks)),
            "non_wikipedia_title_collisions": [
                {"site": "enwikiquote", "title": "Humanity", "qid": "Q5", "wikipedia_qid": "Q990000401"},
                {"site": "dewikiquote", "title": "Menschheit", "qid": "Q5", "wikipedia_qid": "Q990000401"}],
        },
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def generate(out: Path = DATA_DIR) -> dict:
    """Write every file of the sample world under `out`; return {relative path: sha256}."""
    world = _seed.load(SEED_DIR)
    wikis = {lang: _wikipedia.build(world, lang) for lang in LANGUAGES}
    files = {"wikidata/wikidata-sample-all.json": _wikidata.dump(world)}
    for lang in LANGUAGES:
        files[f"wikipedia/{lang}wiki-sample-pages-articles.xml"] = _mediawiki.export(lang, world.lang[lang],
                                                                                    wikis[lang].pages)
    files.update(_tasks.corpus(wikis))
    files.update(_tasks.lama(world, wikis))
    files.update(_tasks.xnli(world))
    files.update(_tasks.mlqa(world, wikis))
    files.update(_tasks.ner(world, wikis))
    files.update(_xtreme.all_tasks(world, wikis))
    files["expected_knowledge.json"] = json.dumps(expected_knowledge(world, wikis), ensure_ascii=False,
                                                  indent=1) + "\n"
    old_manifest = out / "MANIFEST.json"
    if old_manifest.is_file():  # a previous world: remove its files so that none outlives the seed
        for rel in json.loads(old_manifest.read_text(encoding="utf-8")):
            (out / rel).unlink(missing_ok=True)
        for folder in sorted((p for p in out.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
    manifest = {}
    for rel in sorted(files):
        _write(out / rel, files[rel])
        manifest[rel] = hashlib.sha256(files[rel].encode("utf-8")).hexdigest()
    _write(out / "MANIFEST.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m xlmk.sample_world.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output directory (default: the bundled data/)")
    args = parser.parse_args(argv)
    manifest = generate(args.out)
    size = sum((args.out / rel).stat().st_size for rel in manifest)
    print(f"wrote {len(manifest)} files, {size / 1e6:.2f} MB, to {args.out}")


if __name__ == "__main__":
    main()
