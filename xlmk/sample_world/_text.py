"""Render the seed's sentence templates into segments.

A sentence is a list of `Seg`: plain text, the subject, an object of a relation (a link in
article text) or a formatted value. Every later output (wikitext, plain text, NER tags, MLQA
answer offsets, LAMA evidences) is made from the same segments, so they agree by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._seed import CASED, World, ucfirst

TOKEN = re.compile(r"\[(X|Y(?::dat)?|A|OCC|DATES|BIRTH|V|P\d+(?::dat)?)\]")


class Missing(LookupError):
    """A template needs a label or fact the world does not have in this language."""


@dataclass(frozen=True)
class Seg:
    text: str
    role: str = "text"              # text | subject | object | value
    qid: str | None = None          # the entity named (subject, object)
    pid: str | None = None          # the relation (object, value)


def plain(sentence) -> str:
    return "".join(seg.text for seg in sentence)


def format_number(amount, lang: str, world: World) -> str:
    cfg = world.lang[lang]
    if isinstance(amount, float) and not amount.is_integer():
        whole, frac = f"{amount:.2f}".rstrip("0").split(".")
    else:
        whole, frac = str(int(amount)), ""
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = cfg["group"].join(groups) if len(groups) > 1 and int(amount) >= 10000 else "".join(groups)
    return text + (cfg["decimal"] + frac if frac else "")


def format_time(value: tuple, lang: str, world: World) -> str:
    cfg = world.lang[lang]
    year, month, day, precision = value
    if year < 0:
        return cfg["bce"].format(y=-year)
    if precision < 11:
        return str(year)
    return cfg["date"].format(d=day, m=month, y=year, month=cfg["months"][month - 1])


def _article_en(word: str) -> str:
    low = word.lower()
    if low.startswith(("uni", "eu", "one", "use", "usu")):
        return "a"
    return "an" if low[:1] in "aeiou" or low.startswith(("hour", "honest")) else "a"


class Renderer:
    """Fills templates of one language from the world's facts."""

    def __init__(self, world: World, lang: str):
        self.world, self.lang = world, lang
        self.cfg = world.lang[lang]

    def label(self, qid: str) -> str:
        text = self.world.label(qid, self.lang)
        if text is None:
            raise Missing(qid)
        return text

    def occupation_label(self, qid: str, female: bool) -> str:
        if female and self.lang in self.world.entities[qid].fem:
            return self.world.entities[qid].fem[self.lang]
        return self.label(qid)

    def _object(self, qid: str, pid: str | None, dat: bool, female_subject: bool) -> list:
        ent = self.world.entities[qid]
        anchor = (self.occupation_label(qid, female_subject) if pid == "P106" else self.label(qid))
        form = ent.dat.get(self.lang) if dat else None
        if not form:
            return [Seg(anchor, "object", qid, pid)]
        before, rest = form.split("{", 1)
        inner, after = rest.split("}", 1)
        segs = [Seg(before)] if before else []
        segs.append(Seg(inner, "object", qid, pid))
        return segs + ([Seg(after)] if after else [])

    def _list(self, qids: list, pid: str | None, dat: bool, female_subject: bool) -> list:
        if not qids:
            raise Missing(pid)
        out: list = []
        for i, qid in enumerate(qids):
            if i:
                out.append(Seg(self.cfg["and"] if i == len(qids) - 1 else self.cfg["comma"]))
            out += self._object(qid, pid, dat, female_subject)
        return out

    def time_value(self, subject: str, pid: str) -> tuple:
        stmts = [s for s in self.world.entities[subject].statements
                 if s.pid == pid and s.snaktype == "value" and s.rank != "deprecated"]
        if not stmts:
            raise Missing(pid)
        return stmts[0].value

    def render(self, template: str, subject: str, objects: list | None = None, pid: str | None = None,
               value: str | None = None, value_pid: str | None = None, capitalize: bool = True) -> list:
        """Segments of `template` for `subject`; raises Missing when something is unknown."""
        ent = self.world.entities[subject]
        female = ent.type == "person" and ent.gender == "f"
        parts = TOKEN.split(template)
        segs: list = []
        pending_article = []
        for i, part in enumerate(parts):
            if i % 2 == 0:
                if part:
                    segs.append(Seg(part))
                continue
            name, _, mod = part.partition(":")
            if name == "X":
                new = [Seg(self.label(subject), "subject", subject)]
            elif name == "Y":
                new = self._list(list(objects or []), pid, mod == "dat", female)
            elif name == "OCC":
                occ = ent.values("P106")
                if not occ:
                    raise Missing("P106")
                new = [Seg(self.occupation_label(occ[0], female), "object", occ[0], "P106")]
            elif name == "A":
                pending_article.append(len(segs))
                segs.append(Seg(""))
                continue
            elif name in ("DATES", "BIRTH"):
                birth = format_time(self.time_value(subject, "P569"), self.lang, self.world)
                new = [Seg(birth, "value", None, "P569")]
                if name == "DATES":
                    death = format_time(self.time_value(subject, "P570"), self.lang, self.world)
                    new += [Seg(self.cfg["dash"]), Seg(death, "value", None, "P570")]
            elif name == "V":
                new = [Seg(value, "value", None, value_pid)]
            else:
                objs = ent.current(name)
                if not objs:
                    raise Missing(name)
                new = self._list(objs[:1], name, mod == "dat", female)
            segs += new
        for index in pending_article:
            segs[index] = Seg(self._article(segs, index, female, ent.type == "person"))
        segs = [s for s in segs if s.text or s.role != "text"]
        if capitalize and self.lang in CASED and segs and segs[0].text[:1].islower():
            first = segs[0]
            segs[0] = Seg(ucfirst(first.text), first.role, first.qid, first.pid)
        return segs

    def _article(self, segs: list, index: int, female: bool, person: bool) -> str:
        nxt = next((s for s in segs[index + 1:] if s.text.strip()), None)
        if nxt is None:
            raise Missing("article")
        if self.lang == "en":
            return _article_en(nxt.text.strip())
        if self.lang in ("de", "es"):
            if person and nxt.pid == "P106":
                return {"de": ("ein", "eine"), "es": ("un", "una")}[self.lang][female]
            art = self.world.entities[nxt.qid].art.get(self.lang) if nxt.qid else None
            if not art:
                raise Missing(f"article of {nxt.qid}")
            return art
        return ""

    def template(self, group: str, key: str, ent=None, plural: bool = False) -> str:
        """The most specific variant: past (subject died), female, plural, else the base text."""
        entry = self.world.templates[group][key]
        names = ["text"]
        if ent is not None and ent.type == "person":
            past = not ent.alive
            fem = ent.gender == "f"
            names = ([f"past_f"] if past and fem else []) + (["past"] if past else []) + \
                    (["text_f"] if fem else []) + ["text"]
        if plural:
            names.insert(0, "plural")
        for name in names:
            if self.lang in (entry.get(name) or {}):
                return entry[name][self.lang]
        raise Missing(f"{group}.{key}")
