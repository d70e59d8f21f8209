"""A Sphinx extension of the book: each page links to the same page of the other edition.

The English edition is built into `_build/html`, the Chinese one into `_build/html-zh`
(`make html-zh`), side by side; a page of one links to the page of the same name in the
other, relative to it, so the link works wherever the two folders are published
together. The link sits at the top of the page's article.
"""

from __future__ import annotations

import html

# language -> (the folder its edition is built into, how its link reads, its lang tag)
EDITIONS = {"en": ("html", "English edition", "en"), "zh_CN": ("html-zh", "中文版", "zh-CN")}


def _other(language: str) -> str:
    return "en" if language == "zh_CN" else "zh_CN"


def add_edition_link(app, pagename, templatename, context, doctree):
    """Puts the link to the other edition at the top of the page's body."""
    if "body" not in context:
        return
    folder, label, tag = EDITIONS[_other(app.config.language or "en")]
    href = "../" * (pagename.count("/") + 1) + f"{folder}/{pagename}.html"
    link = (f'<p class="edition-switch"><a href="{html.escape(href)}" hreflang="{tag}" '
            f'lang="{tag}">{html.escape(label)}</a></p>\n')
    context["body"] = link + context["body"]


def setup(app):
    app.connect("html-page-context", add_edition_link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
