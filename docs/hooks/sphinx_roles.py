"""MkDocs hook: turn the Sphinx roles of memcore's docstrings into cross-references.

The code's docstrings use reST roles (``:class:`~memcore.ports.MemoryStore```), which
also read well in ``help()``. mkdocstrings renders them as a literal role plus code;
this hook rewrites that HTML into autorefs links (resolved later by the autorefs plugin;
``optional`` so a target outside the API reference just stays code, without a warning).
Only full paths (``memcore.…``) become links.
"""

from __future__ import annotations

import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

ROLE = re.compile(
    r":(?:class|func|meth|mod|attr|exc|data|obj):<code>(?P<short>~)?(?P<target>[\w.]+)</code>"
)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:  # noqa: ARG001 - MkDocs hook signature
    """Rewrite every role in the page's HTML."""
    return ROLE.sub(_autoref, html)


def _autoref(match: re.Match[str]) -> str:
    target = match["target"].lstrip(".")
    title = target.rsplit(".", 1)[-1] if match["short"] else target
    if not target.startswith("memcore"):
        # Relative names (`health`, `.retry`) could resolve to a page heading of the same
        # name elsewhere; without the full path they stay plain code.
        return f"<code>{title}</code>"
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'
