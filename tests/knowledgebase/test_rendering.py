from html.parser import HTMLParser

from knowledgebase.rendering import render_markdown


class _Tags(HTMLParser):
    """The tags and attributes a browser would build from the HTML (text is not markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _attribute_values(html: str) -> list[str]:
    return [value or "" for _, attrs in _tags(html) for value in attrs.values()]


def test_markdown_renders_headings_lists_code_and_tables():
    html = render_markdown("# Title\n\n- one\n- two\n\n`code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<h1>Title</h1>" in html
    assert "<li>one</li>" in html
    assert "<code>code</code>" in html
    assert "<table>" in html
    assert "<td>1</td>" in html


def test_script_tags_are_removed():
    html = render_markdown("Hello <script>alert(1)</script> world")
    assert "<script" not in html
    assert [tag for tag, _ in _tags(html)] == ["p"]


def test_javascript_links_are_removed():
    html = render_markdown(
        "[click](javascript:alert(1)) and [x](JaVaScRiPt:alert(2)) and <javascript:alert(3)>"
    )
    assert not [v for v in _attribute_values(html) if "javascript" in v.lower()]
    assert "click" in html


def test_event_handlers_are_removed():
    html = render_markdown('<img src="x" onerror="alert(1)"> <a href="#" onclick="x()">a</a>')
    assert [tag for tag, _ in _tags(html)] == ["p"]
    html = render_markdown('[a](https://x.example "title onclick=x()")')
    assert [set(attrs) for tag, attrs in _tags(html) if tag == "a"] == [{"href", "title", "rel"}]
    assert not [name for _, attrs in _tags(html) for name in attrs if name.startswith("on")]


def test_raw_html_is_shown_as_text_not_markup():
    html = render_markdown('<iframe src="https://evil.example"></iframe>')
    assert "<iframe" not in html


def test_links_keep_safe_schemes_and_get_a_safe_rel():
    html = render_markdown("[docs](https://example.org/a) [mail](mailto:help@example.org)")
    assert 'href="https://example.org/a"' in html
    assert 'href="mailto:help@example.org"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_data_urls_in_images_are_removed():
    html = render_markdown("![x](data:text/html;base64,PHNjcmlwdD4=)")
    assert not [v for v in _attribute_values(html) if v.startswith("data:")]


def test_the_sanitiser_also_cleans_html_that_reaches_it():
    """Second line of defence: even if the renderer let raw HTML through, nh3 cleans it."""
    from knowledgebase import rendering

    html = rendering.sanitise(
        '<p onclick="x()">a<script>alert(1)</script><a href="javascript:alert(1)">b</a>'
        '<img src="x" onerror="alert(1)"></p>'
    )
    assert "<script" not in html
    assert "onclick" not in html
    assert "onerror" not in html
    assert "javascript:" not in html
