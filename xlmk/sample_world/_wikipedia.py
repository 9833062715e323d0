"""Build the pages of one language's Wikipedia from the world, and record every link they hold.

Articles are written from the entities' facts with the seed's templates. Each ``[[link]]`` is
recorded with where it stands (body, template, ``<ref>``, comment, file, category,
interlanguage, interwiki), its anchor text and the QID it was written to reach (or None for a
red link or a redirect loop); the expected knowledge counts come from these records, not from
re-reading the dump. The link forms are varied on purpose (lower-case first letters,
underscores, HTML entities, percent-encoding, sections, redirects), and a small resolver checks
that every written target really leads to the intended QID under the documented rules.
"""

from __future__ import annotations

import html
import random
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from ._seed import CASED, LABEL_LANGUAGES, World, norm_title
from ._text import Missing, Renderer, Seg, format_number, format_time, plain

SECTION_OF = {"person": "life", "city": "history", "town": "history", "country": "history",
              "continent": "history"}
INFOBOX_FIELDS = {"person": (("birth_place", "P19"), ("death_place", "P20")),
                  "city": (("river", "P206"),), "country": (("capital", "P36"), ("official_languages", "P37"),
                                                             ("currency", "P38")),
                  "company": (("headquarters", "P159"), ("founder", "P112")),
                  "university": (("city", "P131"),), "organisation": (("headquarters", "P159"),)}


@dataclass
class Link:
    lang: str
    page: str
    ns: int
    where: str              # body | template | ref | comment | file | category | interlanguage | interwiki
    anchor: str
    target: str
    qid: str | None         # what the target resolves to (None: red link, loop, page without item)
    variant: str
    sentence: str = ""
    in_list: bool = False


@dataclass
class Page:
    title: str
    ns: int
    text: str
    redirect: str | None = None


@dataclass
class Doc:
    """The plain rendering of one article: paragraphs of sentences of segments."""
    qid: str
    title: str
    paragraphs: list
    lead: int


@dataclass
class Wiki:
    lang: str
    pages: list = field(default_factory=list)
    links: list = field(default_factory=list)
    docs: list = field(default_factory=list)


def _is_letter(ch: str) -> bool:
    return bool(ch) and unicodedata.category(ch)[0] in "LM"


class WikiBuilder:
    def __init__(self, world: World, lang: str):
        self.world, self.lang = world, lang
        self.cfg = world.lang[lang]
        self.r = Renderer(world, lang)
        self.rng = random.Random(f"xlmk-sample-world/wiki/{lang}")
        self.wiki = Wiki(lang)
        self.used: set = set()
        self.redirect_pages: dict = {}           # normalised title -> target title
        self.ns = {int(k): v for k, v in self.cfg["namespaces"].items()}

    # --- links ------------------------------------------------------------------------------
    def resolve(self, target: str) -> str | None:
        key = norm_title(unquote(html.unescape(target)).split("#")[0])
        seen = set()
        while key not in self.world.titles[self.lang]:
            if key not in self.redirect_pages or key in seen:
                return None
            seen.add(key)
            key = norm_title(self.redirect_pages[key].split("#")[0])
        return self.world.titles[self.lang][key]

    def section_title(self, qid: str) -> str:
        return self.cfg["sections"][SECTION_OF.get(self.world.entities[qid].type, "overview")]

    def _variant(self, qid: str, title: str, anchor: str) -> str:
        ent = self.world.entities[qid]
        options = []
        if any(norm_title(a) in self.world.redirects[self.lang] for a in ent.aliases.get(self.lang, [])):
            options.append("redirect")
        if " " in title:
            options.append("underscore")
        if "%" in quote(title.replace(" ", "_"), safe="_"):
            options.append("percent")
        options += ["entity"] + (["section"] if self.lang in ent.pages else [])
        if title[:1] != title[:1].lower() and (self.lang in CASED or title[:1].isascii()):
            options.append("lcfirst")
        for option in options:
            if option not in self.used:
                return option
        return self.rng.choice(options) if self.rng.random() < 0.12 else "natural"

    def link(self, qid: str, anchor: str, page: str, ns: int, where: str, sentence: str = "",
             in_list: bool = False) -> str:
        ent = self.world.entities[qid]
        title = ent.title(self.lang)
        if title is None:
            target, variant, expect = anchor, "red", None
            if self.resolve(target) is not None:
                raise AssertionError(f"{self.lang}: red link {target!r} resolves")
        else:
            variant = self._variant(qid, title, anchor) if where == "body" and ns == 0 else "natural"
            expect = qid
            if variant == "redirect":
                aliases = [a for a in ent.aliases[self.lang] if norm_title(a) in self.world.redirects[self.lang]]
                target = aliases[self.rng.randrange(len(aliases))]
            elif variant == "underscore":
                target = title.replace(" ", "_")
            elif variant == "percent":
                target = quote(title.replace(" ", "_"), safe="_")
            elif variant == "entity":
                target = title.replace("&", "&amp;") if "&" in title else f"&#{ord(title[0])};{title[1:]}"
            elif variant == "section":
                target = f"{title}#{self.section_title(qid)}"
            elif variant == "lcfirst":
                target = title[0].lower() + title[1:]
            elif anchor == title:
                target, variant = title, "plain"
            elif norm_title(anchor) == title and self.lang in CASED:
                target, variant = anchor, "lower"
            else:
                target, variant = title, "piped"
            self.used.add(variant)
        if where == "body" and ns == 0 and self.resolve(target) != expect:
            raise AssertionError(f"{self.lang}: {target!r} does not resolve to {expect}")
        self.wiki.links.append(Link(self.lang, page, ns, where, anchor, target, expect, variant, sentence, in_list))
        return f"[[{target}]]" if target == anchor else f"[[{target}|{anchor}]]"

    def raw_link(self, target: str, anchor: str | None, page: str, ns: int, where: str, qid=None,
                 variant: str = "special", sentence: str = "", in_list: bool = False) -> str:
        self.used.add(variant)
        self.wiki.links.append(Link(self.lang, page, ns, where, anchor or target, target, qid, variant,
                                    sentence, in_list))
        return f"[[{target}|{anchor}]]" if anchor else f"[[{target}]]"

    def wikitext(self, sentence: list, page: str, bold: bool = False, where: str = "body", ns: int = 0) -> str:
        text = plain(sentence)
        out = []
        for i, seg in enumerate(sentence):
            if seg.role == "object":
                if self.lang != "zh":
                    before = sentence[i - 1].text[-1:] if i else ""
                    after = sentence[i + 1].text[:1] if i + 1 < len(sentence) else ""
                    if _is_letter(before) or _is_letter(after):
                        raise AssertionError(f"{self.lang}: a letter touches the link {seg.text!r} in {text!r}")
                out.append(self.link(seg.qid, seg.text, page, ns, where, text))
            elif seg.role == "subject" and bold:
                out.append(f"'''{seg.text}'''")
            elif seg.role == "italic":
                out.append(f"''{seg.text}''")
            else:
                out.append(seg.text)
        return "".join(out)

    # --- articles -----------------------------------------------------------------------------
    def _intro(self, ent) -> tuple:
        t = ent.type
        if t == "person":
            has_birth = any(s.pid == "P569" and s.snaktype == "value" and s.rank != "deprecated"
                            for s in ent.statements)
            keys = ["person_nodates"] if not has_birth else (["person_alive"] if ent.alive else ["person_dead"])
            if ent.gender == "f":
                keys.insert(0, keys[0] + "_f")
            consumed = {"P106"} if len(ent.values("P106")) == 1 else set()
        else:
            keys = {"city": ["city", "generic"], "town": ["town", "generic"], "country": ["country"],
                    "continent": ["continent"]}.get(t, []) + ["generic", "subclass", "root"]
            consumed = set()
        for key in keys:
            entry = self.world.templates["intro"].get(key, {})
            if self.lang not in entry:
                continue
            try:
                segs = self.r.render(entry[self.lang], ent.id)
            except Missing:
                continue
            consumed |= {"city": {"P17"}, "town": {"P17", "P31"}, "country": {"P30"}, "generic": {"P31"},
                         "subclass": {"P279"}}.get(key, set())
            native = [s.value for s in ent.statements if s.pid == "P1705"]
            if native:
                open_, close = self.cfg["paren"]
                at = 1 if segs and segs[0].role == "subject" else 0
                segs[at:at] = [Seg((" " if self.lang != "zh" else "") + open_), Seg(native[0][0], "italic"),
                               Seg(close)]
            return segs, consumed
        raise Missing(f"intro of {ent.id}")

    def _facts(self, ent, consumed: set) -> list:
        out = []
        for pid in self.world.templates["relations"]:
            if pid in consumed or pid == "P21" or (pid == "P17" and ent.type == "office"):
                continue
            objs = [o for o in ent.current(pid) if self.world.label(o, self.lang)][:5]
            if not objs:
                continue
            try:
                tpl = self.r.template("relations", pid, ent, plural=len(objs) > 1)
                out.append(self.r.render(tpl, ent.id, objs, pid))
            except Missing:
                continue
        if ent.type == "person":
            return out
        for pid in self.world.templates["values"]:
            stmts = [s for s in ent.statements if s.pid == pid and s.snaktype == "value" and s.rank != "deprecated"]
            stmts.sort(key=lambda s: s.rank != "preferred")
            if not stmts or "text" not in self.world.templates["values"][pid]:
                continue
            val = stmts[0].value
            if pid == "P571" and isinstance(val, tuple):  # "founded in 1998", not a full date
                val = (val[0], 0, 0, 9)
            text = format_time(val, self.lang, self.world) if isinstance(val, tuple) else \
                format_number(val, self.lang, self.world)
            try:
                tpl = self.r.template("values", pid)
                out.append(self.r.render(tpl, ent.id, value=text, value_pid=pid))
            except Missing:
                continue
        return out

    def _infobox(self, ent, page: str) -> str:
        names = self.cfg["infobox"]
        kind = {"town": "city", "company": "organisation", "university": "organisation", "club": "organisation",
                "band": "organisation"}.get(ent.type, ent.type)
        lines = ["{{" + names.get(kind, names["default"]), f"| name = {ent.labels[self.lang]}"]
        for name, pid in INFOBOX_FIELDS.get(ent.type, ()):
            objs = [o for o in ent.current(pid) if self.world.label(o, self.lang)][:3]
            if objs:
                links = [self.link(o, self.world.label(o, self.lang), page, 0, "template") for o in objs]
                lines.append(f"| {name} = " + ", ".join(links))
        if ent.type in ("city", "town") and ent.values("P17"):
            country = ent.values("P17")[0]
            lines.append(f"| subdivision_name = {{{{flag|{self.world.label(country, 'en')}}}}}")
        native = [s.value for s in ent.statements if s.pid == "P1705"]
        if native:
            lines.append(f"| native_name = {{{{lang|{native[0][1]}|{native[0][0]}}}}}")
        images = [s.value for s in ent.statements if s.pid in ("P18", "P41")]
        if images:
            lines.append(f"| image = {images[0]}")
        return "\n".join(lines) + "\n}}"

    def _paragraph(self, sentences: list, page: str, index: int, bold_first: bool, refs: dict) -> str:
        out = []
        for i, sentence in enumerate(sentences):
            text = self.wikitext(sentence, page, bold=bold_first and i == 0)
            pids = {seg.pid for seg in sentence if seg.role == "value"}
            if "P1082" in pids:
                url = f"https://www.example.org/census/{page.replace(' ', '_')}"
                text += (f'<ref name="stat">{{{{cite web |title={self.cfg["cite"]["title"]} '
                         f'|publisher={self.cfg["cite"]["publisher"]} |url={url} |access-date=2024-01-15}}}}</ref>')
                refs["stat"] = True
            elif "P2046" in pids and refs.get("stat"):
                text += '<ref name="stat" />'
            elif i == 1 and index % 3 == 0:
                obj = next((seg for s in sentences for seg in s if seg.role == "object"), None)
                if obj is not None and self.world.entities[obj.qid].title(self.lang):
                    note = self.link(obj.qid, obj.text, page, 0, "ref")
                    text += f"<ref>{self.cfg['ref_note']} {note}.</ref>"
            out.append(text)
        return self.cfg["space"].join(out)

    def article(self, ent, index: int) -> None:
        lang, cfg = self.lang, self.cfg
        title = ent.title(lang)
        intro, consumed = self._intro(ent)
        sentences = [intro] + self._facts(ent, consumed)
        paragraphs = [sentences[:4]] + ([sentences[4:7]] if len(sentences) > 4 else [])
        rest = sentences[7:]
        refs: dict = {}
        parts = [self._infobox(ent, title)]
        for i, para in enumerate(paragraphs):
            parts.append(self._paragraph(para, title, index, i == 0, refs))
        if index % 7 == 3:
            others = [seg for s in sentences for seg in s if seg.role == "object"
                      and self.world.entities[seg.qid].title(lang)]
            if others:
                target = self.world.entities[others[-1].qid].title(lang)
                parts[-1] += " " + f"<!-- {cfg['comment']} " + self.raw_link(target, None, title, 0, "comment") + " -->"
        if rest:
            parts.append(f"== {self.section_title(ent.id)} ==\n" + self._paragraph(rest, title, index + 1, False, refs))
        pops = [s for s in ent.statements if s.pid == "P1082" and s.snaktype == "value"]
        if len(pops) > 1:
            rows = "\n".join(f"|-\n| {s.qualifiers[0][1][0]} || {format_number(s.value, lang, self.world)}" for s in pops)
            head = " !! ".join(cfg["table_header"])
            parts.append(f"== {cfg['sections']['demographics']} ==\n{{| class=\"wikitable\"\n|+ {cfg['table_caption']}\n"
                         f"! {head}\n{rows}\n|}}")
        images = [s.value for s in ent.statements if s.pid in ("P18", "P41")]
        if images:
            # the local name, the canonical "File" and the legacy alias ("Image", "Imagen") all work
            file_ns = (self.ns[6], "File", self.ns[6], cfg.get("image_alias", "File"))[index % 4]
            caption = cfg["caption"].format(x=ent.labels[lang])
            parts.append(self.raw_link(f"{file_ns}:{images[0]}", f"thumb|{caption}", title, 0, "file"))
        parts.append(self._see_also(ent, index, title))
        parts.append(f"== {cfg['sections']['references']} ==\n<references />")
        cat_ns = self.ns[14] if index % 2 == 0 else "Category"
        cats = cfg["categories"]
        cat = cats.get(ent.type, cats["default"]) if ent.type in ("person", "city", "country") else cats["default"]
        parts.append(self.raw_link(f"{cat_ns}:{cat}", None, title, 0, "category"))
        inter = []  # most articles keep these on Wikidata nowadays; some still carry them inline
        for other in (LABEL_LANGUAGES + ("zh-yue",)) if index % 4 == 0 else ():
            site = f"{other.replace('-', '_')}wiki"
            if other != lang and site in ent.sitelinks:
                inter.append(self.raw_link(f"{other}:{ent.sitelinks[site]}", None, title, 0, "interlanguage"))
        parts.append("\n".join(inter))
        self.wiki.pages.append(Page(title, 0, "\n\n".join(p for p in parts if p)))
        self.wiki.docs.append(Doc(ent.id, title, paragraphs + ([rest] if rest else []), len(paragraphs)))

    def _see_also(self, ent, index: int, title: str) -> str:
        specials = self.cfg["specials"]
        same = [e for e in self.world.entities.values()
                if e.type == ent.type and e.id != ent.id and self.lang in e.pages]
        pos = next((i for i, e in enumerate(same) if e.id > ent.id), 0) if same else 0
        items = [self.link(e.id, e.labels[self.lang], title, 0, "body", e.labels[self.lang], in_list=True)
                 for e in (same[pos:pos + 2] + same[:max(0, pos + 2 - len(same))])[:2]]
        humanity = self.world.entities["Q990000401"]
        if ent.id == "Q5" and self.lang in humanity.pages:  # Q5's wikiquote sitelink has this very title
            target = humanity.title(self.lang)
            items.append(self.raw_link(target, None, title, 0, "body", humanity.id, "site_collision", target, True))
        if ent.id == specials["section_redirect"]["on_page"]:
            red = specials["section_redirect"]
            items.append(self.raw_link(red["title"], None, title, 0, "body", red["qid"], "section_redirect",
                                       red["title"], True))
        if ent.id == specials["loop_on_page"]:
            items.append(self.raw_link(specials["loop"][0], None, title, 0, "body", None, "redirect_loop",
                                       specials["loop"][0], True))
            items.append(self.raw_link(specials["list_page"], None, title, 0, "body", None, "page_without_item",
                                       specials["list_page"], True))
        if ent.id == specials["red_on_page"]:
            for red in specials["red_links"]:
                items.append(self.raw_link(red, None, title, 0, "body", None, "red", red, True))
            prefix, word = specials["interwiki"]
            items.append(self.raw_link(f"{prefix}:{word}", word, title, 0, "interwiki"))
        if not items:
            return ""
        return f"== {self.cfg['sections']['see_also']} ==\n" + "\n".join(f"* {item}" for item in items)

    # --- pages without an item -----------------------------------------------------------------
    def other_pages(self) -> None:
        lang, cfg, ns, sp = self.lang, self.cfg, self.ns, self.cfg["specials"]
        word = cfg["redirect_word"]
        for ent in self.world.entities.values():
            if lang in ent.pages:
                for alias in ent.aliases.get(lang, []):
                    self.redirect_pages[norm_title(alias)] = ent.title(lang)
                    extra = "\n\n{{R from alternative name}}" if lang == "en" else ""
                    self.wiki.pages.append(Page(alias, 0, f"{word} [[{ent.title(lang)}]]{extra}", ent.title(lang)))
        red = sp["section_redirect"]
        target = self.world.entities[red["qid"]].title(lang)
        self.redirect_pages[norm_title(red["title"])] = target
        section = cfg["sections"][red["section"]]
        self.wiki.pages.append(Page(red["title"], 0, f"{word} [[{target}#{section}]]", target))
        a, b = sp["loop"]
        self.redirect_pages[norm_title(a)], self.redirect_pages[norm_title(b)] = b, a
        self.wiki.pages.append(Page(a, 0, f"{word} [[{b}]]", b))
        self.wiki.pages.append(Page(b, 0, f"{word} [[{a}]]", a))

    def list_and_namespace_pages(self) -> None:
        lang, cfg, ns, sp = self.lang, self.cfg, self.ns, self.cfg["specials"]
        ents = self.world.entities
        title = sp["list_page"]
        capitals = [c for e in ents.values() if e.type == "country" for c in e.values("P36")[:1]
                    if lang in ents[c].pages][:12]
        items = [self.link(c, ents[c].labels[lang], title, 0, "body", ents[c].labels[lang], True) for c in capitals]
        self.wiki.pages.append(Page(title, 0, sp["list_intro"] + "\n\n" + "\n".join(f"* {i}" for i in items)))

        def links(qids, page, number):
            return ", ".join(self.link(q, ents[q].labels[lang], page, number, "body") for q in qids
                             if lang in ents[q].pages)
        paris, france = ents["Q90"].title(lang), ents["Q142"].title(lang)
        pages = [
            (1, f"{ns[1]}:{paris}", lambda t: f"== Notes ==\n{sp['talk_text']} {links(['Q142', 'Q1471'], t, 1)}. ~~~~"),
            (10, f"{ns[10]}:{cfg['infobox']['country']}",
             lambda t: "{{Infobox\n| capital = {{{capital|}}}\n}}<noinclude>\n" + sp["template_doc"] + " "
             + links(["Q142", "Q183"], t, 10) + ".\n</noinclude>"),
            (14, f"{ns[14]}:{cfg['categories']['city']}",
             lambda t: f"{sp['category_text']} {links(['Q90', 'Q64'], t, 14)}.\n\n[[{ns[14]}:{cfg['categories']['default']}]]"),
            (4, f"{ns[4]}:{sp['project_page']}", lambda t: f"{sp['project_text']} {links(['Q52'], t, 4)}."),
            (6, f"{ns[6]}:Paris Night.jpg", lambda t: f"== Summary ==\n{cfg['file_description']} {links(['Q90'], t, 6)}"),
        ]
        for number, page_title, make in pages:
            self.wiki.pages.append(Page(page_title, number, make(page_title)))
        assert paris and france


def build(world: World, lang: str) -> Wiki:
    """All pages of `lang`'s dump, their link records and the plain article texts."""
    builder = WikiBuilder(world, lang)
    builder.other_pages()
    for index, ent in enumerate(e for e in world.entities.values() if lang in e.pages):
        builder.article(ent, index)
    builder.list_and_namespace_pages()
    missing = {"redirect", "underscore", "percent", "entity", "section", "plain", "piped", "red"} - builder.used
    if lang in CASED or lang == "zh":
        missing |= {"lcfirst"} - builder.used
    if lang in CASED:
        missing |= {"lower"} - builder.used
    if missing:
        raise AssertionError(f"{lang}: no link of the kinds {sorted(missing)}")
    return builder.wiki
