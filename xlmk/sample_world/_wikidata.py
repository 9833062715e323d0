"""Write the world as a Wikidata JSON dump slice in the real layout.

A JSON array with one entity per line: ``[`` on the first line, each entity followed by ``,``
except the last, ``]`` on the last line. Items and properties use the entity JSON of the real
dumps (labels, descriptions, aliases, claims with mainsnak/qualifiers/references/rank, sitelinks,
pageid, ns, title, lastrevid, modified). Properties sit in the middle of the items, as in a real
dump, so a reader cannot assume they come first.
"""

from __future__ import annotations

import hashlib
import json

from ._seed import LABEL_LANGUAGES, UNITS, World
from ._text import Missing, Renderer, plain

GREGORIAN = "http://www.wikidata.org/entity/Q1985727"
JULIAN = "http://www.wikidata.org/entity/Q1985786"
GREGORIAN_FROM = 1583  # the calendar model Wikidata uses for earlier dates is Julian
ENTITY_URI = "http://www.wikidata.org/entity/"
PROPERTY_LINKS = {"P19": ["P20"], "P20": ["P19"], "P569": ["P570"], "P570": ["P569"], "P17": ["P131"],
                  "P36": ["P1376"], "P1376": ["P36"]}


def _hex(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


def _guid(*parts) -> str:
    h = _hex(*parts)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def datavalue(datatype: str, value) -> dict:
    if datatype in ("wikibase-item", "wikibase-property"):
        kind = "item" if value[0] == "Q" else "property"
        return {"value": {"entity-type": kind, "numeric-id": int(value[1:]), "id": value}, "type": "wikibase-entityid"}
    if datatype == "time":
        year, month, day, precision = value
        sign = "-" if year < 0 else "+"
        return {"value": {"time": f"{sign}{abs(year):04d}-{month:02d}-{day:02d}T00:00:00Z", "timezone": 0,
                          "before": 0, "after": 0, "precision": precision,
                          "calendarmodel": JULIAN if year < GREGORIAN_FROM else GREGORIAN}, "type": "time"}
    if datatype == "quantity":
        amount = f"{value:+d}" if isinstance(value, int) else f"+{value:g}"
        return {"value": {"amount": amount, "unit": "1"}, "type": "quantity"}
    if datatype == "globe-coordinate":
        return {"value": {"latitude": value[0], "longitude": value[1], "altitude": None, "precision": 0.000001,
                          "globe": ENTITY_URI + "Q2"}, "type": "globecoordinate"}
    if datatype == "monolingualtext":
        return {"value": {"text": value[0], "language": value[1]}, "type": "monolingualtext"}
    return {"value": value, "type": "string"}


def snak(world: World, pid: str, value, snaktype: str = "value", salt: str = "") -> dict:
    datatype = world.properties[pid].datatype
    out = {"snaktype": snaktype, "property": pid, "hash": _hex("snak", pid, value, snaktype, salt)}
    if snaktype == "value":
        out["datavalue"] = datavalue(datatype, value)
        if pid in UNITS:
            out["datavalue"]["value"]["unit"] = ENTITY_URI + UNITS[pid]
    out["datatype"] = datatype
    return out


def _references(world: World, ent, stmt, index: int) -> list:
    if stmt.pid == "P1082":
        snaks = {"P854": [snak(world, "P854", f"https://www.example.org/census/{ent.id}")],
                 "P813": [snak(world, "P813", (2024, 1, 15, 11))]}
    elif stmt.pid in ("P214", "P227"):
        snaks = {"P248": [snak(world, "P248", "Q990000403")], "P813": [snak(world, "P813", (2023, 11, 2, 11))]}
    elif index % 4 == 0 and stmt.snaktype == "value" and "enwiki" in ent.sitelinks:
        snaks = {"P143": [snak(world, "P143", "Q328")]}
    else:
        return []
    return [{"hash": _hex("ref", ent.id, index, sorted(snaks)), "snaks": snaks, "snaks-order": list(snaks)}]


def statement(world: World, ent, stmt, index: int) -> dict:
    out = {"mainsnak": snak(world, stmt.pid, stmt.value, stmt.snaktype, ent.id), "type": "statement"}
    if stmt.qualifiers:
        quals: dict = {}
        for pid, value in stmt.qualifiers:
            quals.setdefault(pid, []).append(snak(world, pid, value, salt=ent.id))
        out["qualifiers"] = quals
        out["qualifiers-order"] = list(quals)
    out["id"] = f"{ent.id}${_guid(ent.id, index, stmt.pid)}"
    out["rank"] = stmt.rank
    refs = _references(world, ent, stmt, index)
    if refs:
        out["references"] = refs
    return out


def description(world: World, ent, lang: str) -> str | None:
    """A short Wikidata description from the seed's per-type template, or None."""
    table = world.templates["description"]
    key = ent.type if ent.type in table else "generic"
    if lang not in table[key] or (key == "generic" and not ent.values("P31")):
        return None
    try:
        text = plain(Renderer(world, lang).render(table[key][lang], ent.id, capitalize=False))
    except Missing:
        return None
    if ent.type == "person":
        years = [s.value[0] for s in ent.statements if s.pid in ("P569", "P570") and s.snaktype == "value"
                 and s.rank != "deprecated"]
        if len(years) == 2 and min(years) > 0:
            open_, close = world.lang[lang]["paren"]
            text += f"{' ' if lang != 'zh' else ''}{open_}{years[0]}–{years[1]}{close}"
    return text


def _meta(kind: str, number: int, key: str) -> dict:
    h = int(_hex(kind, key)[:8], 16)
    return {"lastrevid": 2000000000 + h % 100000000,
            "modified": f"2024-{1 + h % 12:02d}-{1 + h % 28:02d}T{h % 24:02d}:{h % 60:02d}:{(h // 7) % 60:02d}Z"}


def item_json(world: World, ent, number: int) -> dict:
    labels = {lang: {"language": lang, "value": ent.labels[lang]} for lang in LABEL_LANGUAGES if lang in ent.labels}
    descs = {}
    for lang in LABEL_LANGUAGES:
        text = description(world, ent, lang) if lang in ent.labels else None
        if text:
            descs[lang] = {"language": lang, "value": text}
    aliases = {lang: [{"language": lang, "value": a} for a in names] for lang, names in ent.aliases.items()}
    claims: dict = {}
    for index, stmt in enumerate(ent.statements):
        claims.setdefault(stmt.pid, []).append(statement(world, ent, stmt, index))
    sitelinks = {}
    for site, title in sorted(ent.sitelinks.items()):
        badges = ["Q17437796"] if ent.id in ("Q90", "Q937") and site == "enwiki" else []
        sitelinks[site] = {"site": site, "title": title, "badges": badges}
    meta = _meta("item", number, ent.id)
    return {"type": "item", "id": ent.id, "labels": labels, "descriptions": descs, "aliases": aliases,
            "claims": claims, "sitelinks": sitelinks, "pageid": 100 + number * 37, "ns": 0, "title": ent.id,
            "lastrevid": meta["lastrevid"], "modified": meta["modified"]}


def property_json(world: World, prop, number: int) -> dict:
    labels = {lang: {"language": lang, "value": text} for lang, text in prop.labels.items()}
    claims: dict = {}
    for index, other in enumerate(PROPERTY_LINKS.get(prop.id, [])):
        claims.setdefault("P1659", []).append({
            "mainsnak": snak(world, "P1659", other, salt=prop.id), "type": "statement",
            "id": f"{prop.id}${_guid(prop.id, index)}", "rank": "normal"})
    meta = _meta("property", number, prop.id)
    return {"type": "property", "datatype": prop.datatype, "id": prop.id, "labels": labels,
            "descriptions": {"en": {"language": "en", "value": prop.desc}} if prop.desc else {},
            "aliases": {}, "claims": claims, "pageid": 3000000 + number * 11, "ns": 120,
            "title": f"Property:{prop.id}", "lastrevid": meta["lastrevid"], "modified": meta["modified"]}


def dump(world: World) -> str:
    """The whole slice as text: items, with the properties inserted after the first third."""
    items = [item_json(world, ent, i) for i, ent in enumerate(world.entities.values())]
    props = [property_json(world, p, i) for i, p in enumerate(world.properties.values())]
    cut = len(items) // 3
    entities = items[:cut] + props + items[cut:]
    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in entities]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def triples(world: World) -> dict:
    """Item-valued, value-snak, non-deprecated statements per property (the knowledge triples)."""
    counts: dict = {}
    for ent in world.entities.values():
        for stmt in ent.statements:
            if (stmt.snaktype == "value" and stmt.rank != "deprecated"
                    and world.properties[stmt.pid].datatype == "wikibase-item"):
                counts[stmt.pid] = counts.get(stmt.pid, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: int(kv[0][1:])))
