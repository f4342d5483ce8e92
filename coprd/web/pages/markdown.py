"""Project descriptions and instructions, Markdown rendered to HTML that cannot run code.

CommonMark (with tables and strikethrough) through markdown-it-py with raw HTML off, so
``<script>`` in the text comes out as text; links and images only with http, https, ftp
or mailto URLs, or relative ones, so ``javascript:``, ``data:`` and the like are left as
text too. Links get ``rel="nofollow ugc noopener"``: the text is the project owner's.
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

__all__ = ["SAFE_SCHEMES", "is_safe_url", "render_markdown"]

SAFE_SCHEMES = frozenset({"http", "https", "ftp", "mailto"})


def is_safe_url(url: str) -> bool:
    """A URL a page may link to: relative, or absolute with one of :data:`SAFE_SCHEMES`."""
    url = url.strip()
    if any(ord(ch) < 33 for ch in url):
        # Browsers drop tabs and newlines inside a URL ("java\tscript:"): never guess.
        return False
    scheme, colon, _rest = url.partition(":")
    if not colon or any(ch in scheme for ch in "/?#"):
        return True  # no scheme: relative
    return scheme.lower() in SAFE_SCHEMES


class _SafeMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return is_safe_url(url)


def _link_open(
    self: object, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tokens[idx].attrSet("rel", "nofollow ugc noopener")
    renderer = _markdown.renderer
    return renderer.renderToken(tokens, idx, options, env)  # type: ignore[attr-defined,no-any-return]


_markdown = _SafeMarkdown("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])
_markdown.add_render_rule("link_open", _link_open)


def render_markdown(text: str | None) -> Markup:
    """``text`` as safe HTML; empty for no text."""
    if not text or not text.strip():
        return Markup("")
    return Markup(_markdown.render(text))
