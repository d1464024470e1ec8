"""Markdown in, model out."""

from briefkit.model import (BulletList, Callout, Code, CodeBlock, Emph, Heading, Link, NoteRef, OrderedList,
                            Paragraph, Quote, Rule, Strong, Table, Text)
from briefkit import parsing
from briefkit.parsing import Parser


def blocks(md: str):
    return Parser().blocks(md)


def test_inlines_and_note_refs():
    assert blocks("A *b* **c** `d<e>` [f](https://x.org) g.[^key1]") == (
        Paragraph((Text("A "), Emph((Text("b"),)), Text(" "), Strong((Text("c"),)), Text(" "), Code("d<e>"),
                   Text(" "), Link((Text("f"),), "https://x.org"), Text(" g."), NoteRef("key1"))),)


def test_raw_html_entities_and_braces_stay_text():
    assert blocks("<b>x</b> &amp; {{ y }} {% z %}") == (Paragraph((Text("<b>x</b> &amp; {{ y }} {% z %}"),)),)
    assert blocks("<script>alert(1)</script>") == (Paragraph((Text("<script>alert(1)</script>"),)),)


def test_unsafe_links_become_their_text():
    assert blocks("[a](javascript:alert(1)) [b](file:///etc) [c](mailto:x@y.org)") == (
        Paragraph((Text("a b "), Link((Text("c"),), "mailto:x@y.org"))),)


def test_blocks():
    md = "# H\n\n- a\n- b\n    1. c\n\n> q\n\n```\ncode <x>\n```\n\n| h | i |\n|:-:|--:|\n| 1 | 2 |\n\n---\n"
    assert blocks(md) == (
        Heading(1, (Text("H"),)),
        BulletList(((Paragraph((Text("a"),)),), (Paragraph((Text("b"),)), OrderedList(((Paragraph((Text("c"),)),),))))),
        Quote((Paragraph((Text("q"),)),)),
        CodeBlock("code <x>"),
        Table(((Text("h"),), (Text("i"),)), (((Text("1"),), (Text("2"),)),), ("center", "right")),
        Rule(),
    )


def test_callout():
    assert blocks('!!! recommendations "Key Recommendations:"\n    - one\n') == (
        Callout("recommendations", "Key Recommendations:", (BulletList(((Paragraph((Text("one"),)),),)),)),)


def test_escaped_note_marker_is_text():
    assert blocks(r"a \[^x] b") == (Paragraph((Text("a [^x] b"),)),)


TRICKY = """# One

Text with a [link](https://example.org) and a note.[^a]

```sh
# a comment in code, not a heading

# another
```

- a list
- that ends

## Two
Straight after a heading: "quoted" -- dashed.

!!! note "Key"
    An admonition.

    # not cut inside it? it is at column 4

# Three

> a quote
# Four, lazily after the quote

~~~
# in a tilde fence
~~~

#### Five
"""


def test_a_text_parsed_by_sections_gives_what_the_whole_gives():
    parser = Parser()
    assert [s.split("\n")[0] for s in parsing.sections(TRICKY)] == ["# One", "## Two", "# Three", "#### Five"]
    parsing._PARSED.clear()
    assert parser.blocks(TRICKY) == parser._parse(TRICKY)
    with_reference = TRICKY + "\n[id]: https://example.org/id\n"
    assert parsing.sections(with_reference) == [with_reference]  # a definition holds for the whole text


def test_a_section_parsed_once_is_reused_and_an_edit_is_parsed_afresh():
    parser = Parser()
    parsing._PARSED.clear()
    first = parser.blocks("# A\n\nOne.\n\n# B\n\nTwo.\n")
    assert len(parsing._PARSED) == 2
    second = parser.blocks("# A\n\nOne.\n\n# B\n\nTwo, edited.\n")
    assert second[:2] == first[:2] and second[3] != first[3] and len(parsing._PARSED) == 3


def test_a_pattern_is_passed_by_only_on_texts_it_cannot_match():
    """Each pattern's needs hold for its expression: on a text holding none of them, it finds nothing."""
    import random

    from briefkit.parsing import PATTERN_NEEDS
    from conftest import CONTENT

    md = Parser()._md
    registries = [md.treeprocessors[name].inlinePatterns for name in ("inline", "smarty")]
    patterns = {name: registry[name] for registry in registries for name in PATTERN_NEEDS if name in registry}
    assert set(patterns) == set(PATTERN_NEEDS)  # every name still names a pattern of the parser

    sample = ("Say `code` and \\* or [^a], [a link](https://example.org) ![a map](map.png) <https://a.org/b> "
              "a break  \nwith *stress*, __strong__, https://example.org/x 'single' \"double\" wait... a---b a--b "
              "the '90s 'tis \"'nested'\" '\"both\"' &nbsp;'x —'x –\"x [ref][] [short] ![ref][]")
    rng = random.Random(11)
    alphabet = "ab1 \n'\"`*_[]()!<>^.-—–&;#\\:/htps\x02\x03"
    texts = [sample, *sample.split(" "), *(CONTENT / "trade.md").read_text(encoding="utf-8").split("\n\n")]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(40))) for _ in range(3000)]
    for name, pattern in patterns.items():
        needs = PATTERN_NEEDS[name]
        assert any(pattern.compiled_re.search(t) for t in texts), name  # the sample exercises every pattern
        for text in texts:
            while any(need in text for need in needs):
                for need in needs:
                    text = text.replace(need, "")
            assert pattern.compiled_re.search(text) is None, (name, text)
