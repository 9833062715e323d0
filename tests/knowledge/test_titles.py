"""Link-target normalisation and classification, as MediaWiki resolves `[[target]]`."""
import pytest

from xlmk.knowledge.titles import SiteInfo, classify_target, normalise_title
from xlmk.knowledge.sites import wikipedia_language

EN = SiteInfo("en", "enwiki", "first-letter", {"file": 6, "category": 14, "talk": 1, "template": 10})
DE = SiteInfo("de", "dewiki", "first-letter", {"datei": 6, "kategorie": 14, "diskussion": 1})
WIKT = SiteInfo("en", "enwiktionary", "case-sensitive", {})


@pytest.mark.parametrize("raw,title", [
    ("foo_bar", "Foo bar"),
    ("  foo   bar  ", "Foo bar"),
    ("Foo#History", "Foo"),
    ("foo bar#sec tion", "Foo bar"),
    ("AT&amp;T", "AT&T"),
    ("caf&eacute;", "Café"),
    ("%C3%89toile", "Étoile"),
    ("Foo%20Bar", "Foo Bar"),
    ("100%25 pure", "100% pure"),
    ("50% off", "50% off"),  # no %XX escape: left alone
    ("Bad%FFbyte", "Bad%FFbyte"),  # decodes to invalid UTF-8: MediaWiki keeps the raw form
    (":Foo", "Foo"),
    ("ñandú", "Ñandú"),
    ("Star Wars: A New Hope", "Star Wars: A New Hope"),  # an unknown prefix is part of the title
    ("T:DYK", "T:DYK"),  # enwiki pseudo-namespace: an article-space title
    ("foo\u200ebar", "Foobar"),
    ("foo\u00a0bar", "Foo bar"),
])
def test_article_targets_normalise(raw, title):
    assert classify_target(raw, EN) == ("article", title, raw.startswith(":"))


def test_case_sensitive_site_keeps_first_letter():
    assert normalise_title("foo bar", WIKT) == "foo bar"
    assert normalise_title("foo bar", EN) == "Foo bar"


@pytest.mark.parametrize("raw,kind,colon", [
    ("File:X.jpg", "file", False),
    ("image:X.jpg", "file", False),
    ("Datei:X.jpg", "file", False),  # localised name from siteinfo
    ("Bild:X.jpg", "file", False),  # alias MediaWiki keeps out of siteinfo
    ("Kategorie:Foo", "category", False),
    ("category:Foo", "category", False),
    (":Kategorie:Foo", "category", True),
    ("Media:Song.ogg", "media", False),
    ("Diskussion:Foo", "namespace", False),
    ("Template:Foo", "namespace", False),
    ("en:Foo", "interlanguage", False),
    ("zh-yue:Foo", "interlanguage", False),
    (":fr:Foo", "interlanguage", True),
    ("wikt:Hund", "interwiki", False),
    ("commons:Foo", "interwiki", False),
    ("#Geschichte", "self", False),
    ("Foo{{bar}}", "invalid", False),
    ("Foo|bar", "invalid", False),
])
def test_other_targets_are_classified(raw, kind, colon):
    target = classify_target(raw, DE)
    assert (target.kind, target.colon) == (kind, colon)
    assert normalise_title(raw, DE) is None


@pytest.mark.parametrize("site,lang", [
    ("enwiki", "en"), ("zh_yuewiki", "zh-yue"), ("zh_min_nanwiki", "zh-min-nan"), ("be_x_oldwiki", "be-tarask"),
    ("simplewiki", "simple"), ("commonswiki", None), ("specieswiki", None), ("metawiki", None),
    ("enwikiquote", None), ("dewikisource", None), ("enwiktionary", None), ("wikidatawiki", None),
    ("mediawikiwiki", None), ("sourceswiki", None), ("wiki", None),
])
def test_only_wikipedia_sitelinks_have_a_language(site, lang):
    assert wikipedia_language(site) == lang
