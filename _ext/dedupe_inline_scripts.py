"""Write each inline ``<script>`` once per page.

Sphinx 7.4 registers a body-only script added after the builder starts (``app.add_js_file(None, body=...)``)
a second time when it prepares the pages (the first copy has filename ``None``, the second ``''``, so its
duplicate check misses it). sphinx-thebe declares ``const THEBE_JS_URL`` that way, and the second copy is a
SyntaxError in every reader's console. Dropping repeated scripts keeps the pages' consoles clean.
"""

from __future__ import annotations

from typing import Any


def _drop_repeated_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # The builder restores its own list after each page, so editing the page's copy in place is safe.
    scripts[:] = unique


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
