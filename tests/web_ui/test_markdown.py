"""Markdown of project texts: formatting kept, anything that could run code dropped."""

from __future__ import annotations

import pytest

from coprd.web.pages.markdown import is_safe_url, render_markdown


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/x",
        "http://a",
        "mailto:me@example.com",
        "ftp://f",
        "/rel",
        "a/b:c",
        "#top",
        "?q=1",
        "page.html",
    ],
)
def test_safe_urls(url: str) -> None:
    assert is_safe_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:x",
        "java\tscript:x",
        "java\nscript:x",
        "data:text/html,x",
        "data:image/png;base64,AA",
        "vbscript:x",
        "file:///etc/passwd",
        "jar:x",
    ],
)
def test_unsafe_urls(url: str) -> None:
    assert not is_safe_url(url)


def test_formatting_is_kept() -> None:
    html = render_markdown("# Title\n\n*em* **strong** `code`\n\n- a\n- b\n\n| x |\n|---|\n| 1 |")
    for part in (
        "<h1>Title</h1>",
        "<em>em</em>",
        "<strong>strong</strong>",
        "<code>code</code>",
        "<li>a</li>",
        "<td>1</td>",
    ):
        assert part in html


def test_raw_html_and_bad_links_become_text() -> None:
    html = render_markdown(
        '<script>x()</script><b onclick="y()">b</b> [l](javascript:z()) '
        "![i](data:image/png;base64,AA) [ok](https://example.com)"
    )
    assert "<script" not in html and "<b " not in html
    assert "javascript:" not in html.replace("[l](javascript:z())", "")
    assert "<img" not in html
    assert '<a href="https://example.com" rel="nofollow ugc noopener">ok</a>' in html


def test_empty_text() -> None:
    assert render_markdown(None) == "" and render_markdown("  \n") == ""
