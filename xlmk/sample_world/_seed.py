"""Load and check the hand-written seed tables of the sample world.

The seed (``seed/*.yaml``) lists real entities with their labels, sitelink titles and facts, the
properties, per-language settings and sentence templates. This module turns it into a `World`:
shorthand keys expanded (``born`` → P569, ``pop`` → P1082 with a P585 qualifier, …), symmetric and
inverse statements added (P47, P190, P26; P1376 from P36), sitelink titles computed, and every
reference checked (unknown ids, clashing titles, non-NFC text all stop the generator).
"""

from __future__ import annotations

import datetime as _dt
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LANGUAGES = ("en", "de", "es", "ar", "hi", "vi", "zh")
LABEL_LANGUAGES = LANGUAGES + ("fr",)  # fr: labels and frwiki sitelinks only, no dump
CASED = frozenset({"en", "de", "es", "vi", "fr"})
ENTITY_FILES = ("concepts.yaml", "countries.yaml", "cities.yaml", "people.yaml", "organisations.yaml")
NER_TAGS = {"person": "PER", "city": "LOC", "town": "LOC", "country": "LOC", "continent": "LOC",
            "river": "LOC", "mountain": "LOC", "range": "LOC", "organisation": "ORG", "company": "ORG",
            "university": "ORG", "club": "ORG", "band": "ORG"}
GENDER = {"m": "Q6581097", "f": "Q6581072"}
UNITS = {"P2046": "Q712226", "P2044": "Q11573", "P2043": "Q828224"}  # km², metre, kilometre
SYMMETRIC = ("P47", "P190", "P26")
SHORT = {"iso": "P297", "flag": "P41", "image": "P18", "area": "P2046", "coord": "P625", "native": "P1705"}


class SeedError(ValueError):
    """The seed tables are inconsistent; the message names the entity and key."""


@dataclass
class Statement:
    pid: str
    value: object = None            # None for novalue/somevalue
    snaktype: str = "value"
    rank: str = "normal"
    qualifiers: list = field(default_factory=list)   # [(pid, value)]


@dataclass
class Entity:
    id: str
    type: str
    labels: dict
    aliases: dict
    art: dict
    fem: dict
    dat: dict
    sitelinks: dict                 # site -> title
    pages: tuple                    # languages whose dump holds the article
    statements: list

    def values(self, pid: str) -> list:
        """Objects of the truthy value statements of `pid` (deprecated ones left out)."""
        return [s.value for s in self.statements
                if s.pid == pid and s.snaktype == "value" and s.rank != "deprecated"]

    def current(self, pid: str) -> list:
        """Like `values`, without the statements that have ended (a P582 end-time qualifier)."""
        return [s.value for s in self.statements
                if s.pid == pid and s.snaktype == "value" and s.rank != "deprecated"
                and not any(q == "P582" for q, _ in s.qualifiers)]

    def title(self, lang: str) -> str | None:
        return self.sitelinks.get(f"{lang}wiki")

    @property
    def gender(self) -> str:
        return "f" if "Q6581072" in self.values("P21") else "m"

    @property
    def alive(self) -> bool:
        return not any(s.pid == "P570" for s in self.statements)


@dataclass
class Property:
    id: str
    datatype: str
    labels: dict
    desc: str
    lama: str | None


@dataclass
class World:
    entities: dict                  # qid -> Entity, in seed order
    properties: dict                # pid -> Property, in seed order
    lang: dict                      # per-language settings (languages.yaml)
    templates: dict                 # templates.yaml
    titles: dict = field(default_factory=dict)     # lang -> {normalised title: qid}
    redirects: dict = field(default_factory=dict)  # lang -> {alias: qid}

    def label(self, qid: str, lang: str) -> str | None:
        return self.entities[qid].labels.get(lang)


def ucfirst(text: str) -> str:
    return text[:1].upper() + text[1:]


def norm_title(title: str) -> str:
    """MediaWiki's canonical form for a site with first-letter case."""
    return ucfirst(" ".join(title.replace("_", " ").split()))


def _parse_time(raw, where: str) -> tuple:
    """(year, month, day, precision) from a YAML date, an int year or "-0384"/"1879-03-14"."""
    if isinstance(raw, _dt.date):
        return (raw.year, raw.month, raw.day, 11)
    if isinstance(raw, int):
        return (raw, 0, 0, 9)
    text = str(raw)
    sign = -1 if text.startswith("-") else 1
    parts = text.lstrip("-").split("-")
    try:
        nums = [int(p) for p in parts]
    except ValueError as exc:
        raise SeedError(f"{where}: bad time {raw!r}") from exc
    if len(nums) == 1:
        return (sign * nums[0], 0, 0, 9)
    if len(nums) == 3:
        return (sign * nums[0], nums[1], nums[2], 11)
    raise SeedError(f"{where}: bad time {raw!r}")


def _parse_value(datatype: str, raw, where: str):
    if datatype in ("wikibase-item", "wikibase-property"):
        if not (isinstance(raw, str) and raw[:1] in "QP" and raw[1:].isdigit()):
            raise SeedError(f"{where}: expected an entity id, got {raw!r}")
        return raw
    if datatype == "time":
        return _parse_time(raw, where)
    if datatype == "quantity":
        if not isinstance(raw, (int, float)):
            raise SeedError(f"{where}: expected a number, got {raw!r}")
        return raw
    if datatype == "globe-coordinate":
        return (float(raw[0]), float(raw[1]))
    if datatype == "monolingualtext":
        return (str(raw[0]), str(raw[1]))
    return str(raw)


def _statements(props: dict, pid: str, spec, where: str) -> list:
    if pid not in props:
        raise SeedError(f"{where}: unknown property {pid}")
    specs = spec if isinstance(spec, list) and not (props[pid].datatype in ("globe-coordinate", "monolingualtext")
                                                    and spec and not isinstance(spec[0], (list, dict))) else [spec]
    out = []
    for one in specs:
        if isinstance(one, dict):
            snak = one.get("snak", "value")
            value = _parse_value(props[pid].datatype, one["v"], where) if snak == "value" else None
            quals = [(q, _parse_value(props[q].datatype, v, f"{where} qualifier {q}"))
                     for q, v in (one.get("q") or {}).items()]
            for q, _ in quals:
                if q not in props:
                    raise SeedError(f"{where}: unknown qualifier {q}")
            out.append(Statement(pid, value, snak, one.get("rank", "normal"), quals))
        else:
            out.append(Statement(pid, _parse_value(props[pid].datatype, one, where)))
    return out


ENTITY_KEYS = frozenset({"id", "type", "lat", "title", "alias", "art", "fem", "dat", "nowiki", "nopage", "sites",
                         "g", "born", "died", "pop", "pop_hist", *SHORT, *LABEL_LANGUAGES})


def _entity(raw: dict, props: dict) -> Entity:
    qid = raw["id"]
    where = f"entity {qid}"
    for key in raw:
        if key not in ENTITY_KEYS and not (key[:1] == "P" and key[1:].isdigit()):
            raise SeedError(f"{where}: unknown key {key!r}")
    for key in ("title", "alias", "art", "fem", "dat"):
        for lang in raw.get(key) or {}:
            if lang not in LABEL_LANGUAGES:
                raise SeedError(f"{where}.{key}: unknown language {lang!r}")
    labels = {}
    for lang in LABEL_LANGUAGES:
        value = raw.get(lang, raw.get("lat") if lang in ("en", "de", "es", "vi") else None)
        if value is not None:
            labels[lang] = str(value)
    if "en" not in labels:
        raise SeedError(f"{where}: no English label")
    stmts: list = []
    if "g" in raw:
        stmts.append(Statement("P21", GENDER[raw["g"]]))
    for key, pid in (("born", "P569"), ("died", "P570")):
        if key in raw:
            stmts += _statements(props, pid, raw[key], f"{where}.{key}")
    if "pop" in raw:
        hist = sorted(raw.get("pop_hist", []))
        for year, amount in hist:
            stmts.append(Statement("P1082", amount, qualifiers=[("P585", (year, 0, 0, 9))]))
        amount, year = raw["pop"]
        stmts.append(Statement("P1082", amount, rank="preferred" if hist else "normal",
                               qualifiers=[("P585", (year, 0, 0, 9))]))
    for key, pid in SHORT.items():
        if key in raw:
            stmts += _statements(props, pid, raw[key] if key not in ("coord", "native") else [raw[key]],
                                 f"{where}.{key}")
    for key, spec in raw.items():
        if key[:1] == "P" and key[1:].isdigit():
            stmts += _statements(props, key, spec, f"{where}.{key}")
    fem = raw.get("fem", {})
    for lang, text in fem.items():
        stmts.append(Statement("P2521", (text, lang)))
    nowiki = raw.get("nowiki", [])
    nowiki = LABEL_LANGUAGES if nowiki == "all" else tuple(nowiki)
    sitelinks = {}
    for lang in LABEL_LANGUAGES:
        if lang in labels and lang not in nowiki:
            default = ucfirst(labels[lang]) if lang in CASED else labels[lang]
            sitelinks[f"{lang}wiki"] = raw.get("title", {}).get(lang, default)
    for site, title in (raw.get("sites") or {}).items():
        sitelinks[site] = str(title)
    pages = tuple(lang for lang in LANGUAGES
                  if f"{lang}wiki" in sitelinks and lang not in raw.get("nopage", []))
    aliases = {lang: [str(a) for a in names] for lang, names in (raw.get("alias") or {}).items()}
    for site, title in sitelinks.items():
        if site == "commonswiki" and title.startswith("Category:"):
            stmts.append(Statement("P373", title[len("Category:"):]))
    return Entity(qid, raw["type"], labels, aliases, raw.get("art", {}), fem, raw.get("dat", {}),
                  sitelinks, pages, stmts)


def _add_derived(entities: dict) -> None:
    for ent in list(entities.values()):
        for stmt in list(ent.statements):
            if stmt.snaktype != "value" or stmt.rank == "deprecated":
                continue
            if stmt.pid in SYMMETRIC:
                other = entities[stmt.value]
                if ent.id not in other.values(stmt.pid):
                    other.statements.append(Statement(stmt.pid, ent.id, qualifiers=list(stmt.qualifiers)))
            if stmt.pid == "P36" and not any(q == "P582" for q, _ in stmt.qualifiers):
                city = entities[stmt.value]
                if ent.id not in city.values("P1376"):
                    city.statements.append(Statement("P1376", ent.id))


def _check(world: World) -> None:
    ents = world.entities
    for ent in ents.values():
        for stmt in ent.statements:
            vals = [stmt.value] + [v for _, v in stmt.qualifiers]
            types = [world.properties[stmt.pid].datatype] + [world.properties[q].datatype for q, _ in stmt.qualifiers]
            for val, dtype in zip(vals, types):
                if dtype == "wikibase-item" and val is not None and val not in ents:
                    raise SeedError(f"entity {ent.id}: {stmt.pid} refers to unknown item {val}")
        for text in list(ent.labels.values()) + list(ent.sitelinks.values()):
            if unicodedata.normalize("NFC", text) != text:
                raise SeedError(f"entity {ent.id}: {text!r} is not NFC")
        seen = set()
        for stmt in ent.statements:
            if stmt.snaktype == "value" and world.properties[stmt.pid].datatype == "wikibase-item":
                key = (stmt.pid, stmt.value)
                if key in seen:
                    raise SeedError(f"entity {ent.id}: duplicate statement {key}")
                seen.add(key)
    for site_lang in LABEL_LANGUAGES + ("zh_yue",):
        site = f"{site_lang}wiki"
        table: dict = {}
        for ent in ents.values():
            if site in ent.sitelinks:
                key = norm_title(ent.sitelinks[site])
                if key in table:
                    raise SeedError(f"{site}: title {key!r} of {ent.id} is already {table[key]}")
                table[key] = ent.id
        if site_lang in LANGUAGES:
            world.titles[site_lang] = table
    for lang in LANGUAGES:
        redirects: dict = {}
        for ent in ents.values():
            if lang not in ent.pages:
                continue
            for alias in ent.aliases.get(lang, []):
                key = norm_title(alias)
                if key in world.titles[lang] or key in redirects:
                    raise SeedError(f"{lang}: alias {alias!r} of {ent.id} clashes with a title")
                redirects[key] = ent.id
        world.redirects[lang] = redirects


def load(seed_dir: Path) -> World:
    """Read every seed table and return the checked world."""
    def read(name):
        with open(seed_dir / name, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    props = {}
    for raw in read("properties.yaml")["properties"]:
        labels = {lang: str(raw[lang]) for lang in LABEL_LANGUAGES if lang in raw}
        props[raw["id"]] = Property(raw["id"], raw["datatype"], labels, raw.get("desc", ""), raw.get("lama"))
    entities: dict = {}
    for name in ENTITY_FILES:
        for raw in read(name)["entities"]:
            if raw["id"] in entities:
                raise SeedError(f"{name}: entity {raw['id']} listed twice")
            entities[raw["id"]] = _entity(raw, props)
    _add_derived(entities)
    world = World(entities, props, read("languages.yaml"), read("templates.yaml"))
    _check(world)
    return world
