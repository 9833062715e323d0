"""Tables about Wikimedia sites: which sitelinks are Wikipedias, language codes, link prefixes.

These are data, not logic: they decide which Wikidata sitelinks become titles, which `[[prefix:…]]`
links are interlanguage or interwiki links, and which localised namespace names a dump's siteinfo
does not list (MediaWiki keeps aliases such as German `Bild:` for `Datei:` out of the export).
"""
from __future__ import annotations

# Sites whose dbname ends in "wiki" but which are not a language edition of Wikipedia.
NON_WIKIPEDIA_SITES = frozenset(
    """commonswiki specieswiki metawiki mediawikiwiki wikidatawiki testwikidatawiki sourceswiki
    wikimaniawiki outreachwiki foundationwiki incubatorwiki wikifunctionswiki testwiki test2wiki
    testcommonswiki nostalgiawiki tenwiki strategywiki usabilitywiki advisorywiki labswiki loginwiki
    votewiki qualitywiki donatewiki collabwiki officewiki internalwiki boardwiki chairwiki execwiki
    stewardwiki auditcomwiki fdcwiki grantswiki iegcomwiki legalteamwiki movementroleswiki
    otrs_wikiwiki projectcomwiki searchcomwiki spcomwiki wg_enwiki apiportalwiki""".split()
)

# dbnames whose language code is not dbname[:-4] with "_" -> "-".
SITE_LANGUAGE_EXCEPTIONS = {"be_x_oldwiki": "be-tarask"}


def wikipedia_language(site: str) -> str | None:
    """`enwiki` -> `en`, `zh_yuewiki` -> `zh-yue`; None for every site that is not a Wikipedia."""
    if not site.endswith("wiki") or site in NON_WIKIPEDIA_SITES or len(site) <= 4:
        return None
    if site in SITE_LANGUAGE_EXCEPTIONS:
        return SITE_LANGUAGE_EXCEPTIONS[site]
    return site[:-4].replace("_", "-")


# Language-edition prefixes: `[[de:Foo]]` is an interlanguage link (shown in the sidebar, not text).
WIKIPEDIA_LANGUAGES = frozenset(
    """aa ab ace ady af ak als alt am ami an ang anp ar arc ary arz as ast atj av avk awa ay az azb ba
    ban bar bat-smg bbc bcl bdr be be-tarask be-x-old bew bg bh bi bjn blk bm bn bo bpy br bs btm bug
    bxr ca cbk-zam cdo ce ceb ch cho chr chy ckb co cr crh cs csb cu cv cy da dag de dga din diq dsb
    dtp dty dv dz ee el eml en eo es et eu ext fa fat ff fi fiu-vro fj fo fon fr frp frr fur fy ga gag
    gan gcr gd gl glk gn gom gor got gpe gu guc gur guw gv ha hak haw he hi hif ho hr hsb ht hu hy hyw
    hz ia iba id ie ig igl ii ik ilo inh io is it iu ja jam jbo jv ka kaa kab kbd kbp kcg kg kge ki
    kj kk kl km kn knc ko koi kr krc ks ksh ku kus kv kw ky la lad lb lbe lez lfn lg li lij lld lmo
    ln lo lrc lt ltg lv mad mai map-bms mdf mg mh mhr mi min mk ml mn mni mnw mos mr mrj ms mt mus mwl
    my myv mzn na nah nan nap nds nds-nl ne new ng nia nl nn no nov nqo nr nrm nso nup nv ny oc olo om
    or os pa pag pam pap pcd pcm pdc pfl pi pih pl pms pnb pnt ps pt pwn qu rm rmy rn ro roa-rup
    roa-tara rsk ru rue rup rw sa sah sat sc scn sco sd se sg sgs sh shi shn shy si simple sk skr sl
    sm smn sn so sq sr srn ss st stq su sv sw syl szl szy ta tay tcy tdd te tet tg th ti tig tk tl tly
    tn to tpi tr trv ts tt tum tw ty tyv udm ug uk ur uz ve vec vep vi vls vo vro wa war wo wuu xal
    xh xmf yi yo yue za zea zgh zh zh-classical zh-min-nan zh-yue zu""".split()
)

# Global interwiki prefixes (a subset of meta:Interwiki_map, the ones seen in article text).
INTERWIKI_PREFIXES = frozenset(
    """w wikipedia wikt wiktionary q wikiquote s wikisource b wikibooks n wikinews v wikiversity voy
    wikivoyage c commons m meta metawikimedia metawikipedia mw mediawikiwiki species wikispecies d
    wikidata f wikifunctions foundation wmf wikimedia incubator outreach phab phabricator mediazilla
    bugzilla toollabs toolforge wikitech translatewiki gerrit doi google imdbname imdbtitle arxiv
    rfc iso639-3 ethnologue oeis scholar worldcat utrs mailarchive sourceforge github""".split()
)

# Canonical namespace names (every wiki accepts them) and localised aliases missing from siteinfo.
# Keys are lower-cased with spaces; values are namespace numbers.
CANONICAL_NAMESPACES = {
    "media": -2, "special": -1, "talk": 1, "user": 2, "user talk": 3, "project": 4,
    "wikipedia": 4, "project talk": 5, "wikipedia talk": 5, "file": 6, "image": 6, "file talk": 7,
    "image talk": 7, "mediawiki": 8, "mediawiki talk": 9, "template": 10, "template talk": 11,
    "help": 12, "help talk": 13, "category": 14, "category talk": 15, "portal": 100,
    "portal talk": 101, "draft": 118, "draft talk": 119, "timedtext": 710, "timedtext talk": 711,
    "module": 828, "module talk": 829, "gadget": 2300, "gadget definition": 2302, "wp": 4, "wt": 5,
}  # not "T:", "CAT:", "MOS:": on enwiki those are pseudo-namespaces, i.e. article-space redirects
NAMESPACE_ALIASES = {
    "bild": 6, "datei": 6, "kategorie": 14, "imagen": 6, "archivo": 6, "categoría": 14,
    "fichier": 6, "catégorie": 14, "immagine": 6, "categoria": 14, "ficheiro": 6, "arquivo": 6,
    "изображение": 6, "файл": 6, "категория": 14, "صورة": 6, "ملف": 6, "تصنيف": 14, "चित्र": 6,
    "संचिका": 6, "श्रेणी": 14, "hình": 6, "tập tin": 6, "thể loại": 14, "图像": 6, "圖像": 6,
    "文件": 6, "檔案": 6, "档案": 6, "图片": 6, "圖片": 6, "分类": 14, "分類": 14, "画像": 6,
    "ファイル": 6, "カテゴリ": 14, "파일": 6, "그림": 6, "분류": 14,
}

# Localised `#REDIRECT` words, used only when a page lacks the <redirect> element (old dumps).
REDIRECT_WORDS = (
    "redirect", "weiterleitung", "redirección", "redireccion", "redirection", "rinvio",
    "redirecionamento", "перенаправление", "تحويل", "अनुप्रेषित", "पुनर्प्रेषित", "đổi", "重定向",
    "転送", "넘겨주기",
)
