"""Wikitext cleaning: what a reader sees, and which links are mentions, at which offsets."""
import pytest

from xlmk.knowledge.titles import SiteInfo
from xlmk.knowledge.wikitext import clean_wikitext, convert_variants

EN = SiteInfo("en", "enwiki", "first-letter", {"file": 6, "category": 14, "template": 10})


def clean(text):
    page = clean_wikitext(text, EN)
    for s, e, _ in page.links:  # offsets are always into the cleaned text
        assert 0 <= s < e <= len(page.text)
    return page


def anchors(page):
    return [(page.text[s:e], title) for s, e, title in page.links]


def test_link_text_target_and_offsets():
    page = clean("An [[english_language#Grammar|''English'']] author and [[Human]] [[cat]]s.")
    assert page.text == "An English author and Human cats."
    assert anchors(page) == [("English", "English language"), ("Human", "Human"), ("cat", "Cat")]


@pytest.mark.parametrize("wikitext", [
    "A{{Infobox|name=[[Skip]]}}B",
    "A{{outer|{{inner|[[Skip]]}}}}B",
    "A{{#if:x|[[Skip]]}}B",
    "A<ref>See [[Skip]].</ref>B",
    "A<ref name=\"n\">{{cite|title=[[Skip]]}}</ref>B",
    "A<ref name=n/>B",
    "A<!-- [[Skip]] -->B",
    "A[[File:X.jpg|thumb|A [[Skip]] caption]]B",
    "A[[Image:X.jpg|[[Skip]]]]B",
    "A[[Category:Skip]]B",
    "A[[de:Skip]]B",
    "A<math>[[Skip]]</math>B",
    "A<gallery>\nFile:X.jpg|[[Skip]]\n</gallery>B",
    "A{{{1|[[Skip]]}}}B",
])
def test_links_outside_prose_are_dropped_with_their_text(wikitext):
    page = clean(wikitext)
    assert page.links == []
    assert page.text in ("AB", "A\nB")
    assert "Skip" not in page.text


@pytest.mark.parametrize("wikitext,text", [
    ("A [[wikt:dog|dog]] B", "A dog B"),
    ("A [[:Category:Writers|writers]] B", "A writers B"),
    ("A [[:de:Hund|Hund]] B", "A Hund B"),
    ("A [[Template:Foo]] B", "A Template:Foo B"),
    ("A [[#History|history]] B", "A history B"),
    ("A [http://x.org the site] B", "A the site B"),
    ("A http://x.org B [http://y.org] C", "A B C"),  # bare and numbered URLs are noise
    ("A <nowiki>[[not a link]]</nowiki> B", "A [[not a link]] B"),
])
def test_non_article_links_keep_text_but_are_not_mentions(wikitext, text):
    page = clean(wikitext)
    assert page.text == text
    assert page.links == []


def test_tables_headings_lists_entities_and_magic_words():
    page = clean("__NOTOC__Intro [[A]].\n{| class=wikitable\n| [[InTable]]\n|}\n== Life ==\n"
                 "* item&nbsp;one &amp; [[B]]\n#two\n'''bold''' <small>small [[C]]</small><br/>end")
    assert page.text == "Intro A.\nLife\nitem one & B\ntwo\nbold small C\nend"
    assert [t for _, t in anchors(page)] == ["A", "B", "C"]
    assert [page.text[s:e] for s, e in page.headings] == ["Life"]
    assert page.intro_end == page.text.index("Life")
    assert page.stats["dropped_table"] == 1


def test_blank_tidying_moves_offsets():
    page = clean("X {{tpl}}  ( {{IPA|x}} ) is   [[  Foo  |  the foo ]] {{c}} .  Then [[Bar]]<ref>r</ref>, ok")
    assert page.text == "X is the foo. Then Bar, ok"
    assert anchors(page) == [("the foo", "Foo"), ("Bar", "Bar")]


def test_link_with_empty_text_is_not_a_mention():
    page = clean("A [[Foo|{{tpl}}]] B")
    assert page.links == [] and page.stats["links_empty_text"] == 1


def test_entities_and_percent_encoding_in_targets():
    page = clean("[[AT&amp;T]] and [[%C3%89toile|star]] and [[caf&eacute;]]")
    assert anchors(page) == [("AT&T", "AT&T"), ("star", "Étoile"), ("café", "Café")]


def test_language_converter_markup():
    assert convert_variants("A -{zh-hans:简体;zh-hant:繁體}- B -{literal}- C -{H|zh-cn:x;zh-tw:y}-") == \
        "A 简体 B literal C "
    page = clean_wikitext("北京-{zh-hans:[[首都]];zh-hant:[[首都]]}-。", SiteInfo("zh"))
    assert page.text == "北京首都。" and page.links == [(2, 4, "首都")]


@pytest.mark.parametrize("wikitext,text,expected,empty", [
    ("A [[b|c d]] E", "A c d E", [("c d", "B")], 0),
    ("A [[ b ]] E", "A b E", [("b", "B")], 0),
    ("A [[b| ]] E", "A b E", [("b", "B")], 0),  # a blank label shows the title as typed
    ("A [[b|]] E", "A b E", [("b", "B")], 0),
    ("A [[b|''c'']] E", "A c E", [("c", "B")], 0),
    ("A [[b|x<foo>y]] E", "A xy E", [("xy", "B")], 0),
    ("A [[b|&amp;]] E", "A & E", [("&", "B")], 0),
    ("A [[b|[[c]]]] E", "A c E", [("c", "B")], 0),
    ("A [[b&#x41;c|d]] E", "A d E", [("d", "BAc")], 0),
    ("A [[b|<!---->]] E", "A E", [], 1),  # markup that shows nothing leaves an empty link
    ("A [[b|{{t}}]] E", "A E", [], 1),
    ("A [[b<!---->c]] E", "A bc E", [("bc", "Bc")], 0),  # MediaWiki drops comments before it reads links
    ("A [[b<!-- x -->c|d]] E", "A d E", [("d", "Bc")], 0),
])
def test_link_labels_and_titles_of_one_token_or_several(wikitext, text, expected, empty):
    page = clean(wikitext)
    assert page.text == text
    assert anchors(page) == expected
    assert page.stats["links_article"] == 1 and page.stats["links_empty_text"] == empty


@pytest.mark.parametrize("wikitext", ["A [[b{{x}}c]] E", "A [[:b{{x}}c]] E"])
def test_a_title_with_markup_is_no_link_and_shows_only_its_visible_text(wikitext):
    page = clean(wikitext)
    assert page.text == "A bc E"  # not the "{" that marks the title invalid
    assert page.links == [] and page.stats["links_invalid"] == 1


@pytest.mark.parametrize("space", ["\t", "\u00a0", "\u2009", "\u202f"])
def test_odd_spaces_become_plain_ones_before_offsets_are_taken(space):
    page = clean(f"A{space}{space}[[b|c{space}d]]{space}E\r[[F]]")
    assert page.text == "A c d E\nF"
    assert anchors(page) == [("c d", "B"), ("F", "F")]


@pytest.mark.parametrize("text,spans,tidied,moved", [
    (" a  b \n\n c .", [[1, 2], [3, 5]], "a b\nc.", [[0, 1], [2, 3]]),
    ("\na ,b", [[1, 2]], "a,b", [[0, 1]]),  # one blank at the start, one before a comma
    ("a b ", [[2, 4]], "a b", [[2, 3]]),  # one blank at the end
    (" ", [], "", []),
    ("\n", [], "", []),
    ("a\n", [[0, 2]], "a", [[0, 1]]),
    (" ,a", [[1, 3]], ",a", [[0, 2]]),
])
def test_tidy_blanks_at_the_ends_and_before_punctuation(text, spans, tidied, moved):
    from xlmk.knowledge.tidy import tidy

    assert tidy(text, spans) == tidied
    assert spans == moved


# What a page's body may hold, including openers left unclosed that a later line could close.
BODY = ["Text [[Paris]] and [[a|b]].", "{{Infobox|x=[[y]]}}", "[[a|b", "[[a|b]", "{{open|", "<ref>r", "<!-- c",
        "<nowiki>", "<ref>x</ref>", "{|\n| cell", "== H ==", "* item [[L]]", "''it", "-{zh-hans:A;zh-hant:B}-",
        "[http://x.org t", "{{{arg", "<div>", "<gallery>", "__NOTOC__", "&amp;", " ", ""]
# Lines a page may end with: hidden ones, and ones that show or that pair with the body.
TAIL = ["[[Category:X]]", "[[Category:Y|sort]]", "[[de:Paris]]", "[[fr:Paris]]", "  [[Category:Z]] ", "",
        "   ", "{{DEFAULTSORT:Smith, J}}", "{{Authority control}}", "{{Navbox|a=b|c}}", "{{#if:x|y}}",
        "[[:Category:X]]", "[[Paris]]", "[[File:a.jpg]]", "[[File:a.jpg|thumb|cap]]", "{{}}", "{{ }}",
        "{{a|{{b}}}}", "{{a}}}", "}}", "]]", "|}", "</ref>", "-->", "</nowiki>", "[[de:X]] tail", "{{x}}{{y}}",
        "[[Category:A&amp;B]]", "[[wikt:word]]", "[[Category:X]]]]", "[[de:Paris]]\t"]


# Templates a page may start with: hidden ones, and ones that are not templates, do not close where
# they seem to or hold something that could stay open.
HEAD = ["{{Short description|A city}}", "{{Use dmy dates|date=May 2020}}", "{{DISPLAYTITLE:x}}", "{{a}}", "{{ a }}",
        "{{Infobox organization\n| name = X\n| city = [[Beijing]]\n}}", "{{Infobox\n|a={{flag|CN}} b\n|c=[[d|e]]}}",
        "{{a|''b'' &amp; c=d}}", "{{#if:x|y}}", "{{a\n|b\n|c\n}}", "{{a|b\n}}", "{{a|http://x.org}}", "{{!}}",
        "{{a\n|b=<ref>x</ref>\n}}", "{{}}", "{{a|{{b}}", "{{a\n\n|b}}", "{{a}}x", "{{a|[[b]}}", "{{a|}}}", "{{{a}}}",
        "{{a|b=[http://x y]}}", "{{a|<!-- c -->}}", "{{a|~~~~}}", "{{a|b}}}}", "{{a\n|b={{c\n|d}}\n}}", "{{a|[[b|{{c}}]]}}",
        "{{a|[[File:x.jpg|thumb]]}}", "[[a]]", "text", " ", "", "{{a|b", "{{a}}\n{{b", "{{a|[[b]]]]}}", "{{a|]]}}"]


def _pages(n, seed):
    import random

    rnd = random.Random(seed)
    for _ in range(n):
        head = "\n".join(rnd.choice(HEAD) for _ in range(rnd.randint(0, 3)))
        body = "\n".join(rnd.choice(BODY) for _ in range(rnd.randint(0, 4)))
        yield head + rnd.choice(["\n", "", "\n\n"]) + body + "\n" + "\n".join(
            rnd.choice(TAIL) for _ in range(rnd.randint(0, 6)))


def test_a_hidden_head_and_tail_are_not_tokenized_and_change_nothing(monkeypatch):
    from xlmk.knowledge import wikitext

    def as_dict(page):
        return page.text, page.links, page.headings, list(page.stats.items())

    pages = list(_pages(3000, seed=5))
    shortcut = [as_dict(clean_wikitext(p, EN)) for p in pages]
    seen = []
    tokenize = wikitext._tokenizer().tokenize
    monkeypatch.setattr(wikitext, "_TOKENIZER", type("T", (), {"tokenize": lambda self, t, *a: (
        seen.append(len(t)), tokenize(t, *a))[1]})())
    clean_wikitext("{{Short description|x}}\n{{Infobox\n| a = [[b]]\n}}\nBody [[Paris]].\n\n[[Category:X]]\n"
                   "{{DEFAULTSORT:X}}\n[[de:Paris]]", EN)
    assert seen == [len("\nBody [[Paris]].\n")]  # head and tail (blank lines included) never reach the tokenizer
    monkeypatch.setattr(wikitext, "_hidden_tail", lambda text, site: (len(text), []))
    monkeypatch.setattr(wikitext, "_hidden_head", lambda text, tail: 0)
    assert [as_dict(clean_wikitext(p, EN)) for p in pages] == shortcut
