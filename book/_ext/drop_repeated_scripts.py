"""A Sphinx extension for the course site: each page includes each script once.

sphinx-thebe and sphinx-togglebutton add inline scripts while Sphinx reads the pages. Sphinx 7's HTML builder
records such a script twice: once when it is added (file name None) and again from Sphinx's registry before the
pages are written (file name ""), and its duplicate check tells the two apart by that name. The browser then
refuses the second copy: "Identifier 'THEBE_JS_URL' has already been declared".
"""

from sphinx.application import Sphinx


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Keep the first of the page's scripts that have the same file (or none), priority and attributes."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict:
    """Register the page hook."""
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
