"""Markdown as people write it in requests and replies, rendered safely.

markdown-it-py renders CommonMark with raw HTML switched off; nh3 then keeps only the tags
and attributes below, so nothing a customer types can run script or style the page.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}}


def render_markdown(text: str) -> str:
    """Sanitised HTML for `text`; links get rel="noopener noreferrer nofollow"."""
    html = _RENDERER.render(text or "")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
