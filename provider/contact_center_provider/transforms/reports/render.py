"""The Jinja2 environment every report is rendered with.

Autoescaping is on for HTML and XML templates (``.html``, ``.htm``, ``.xml`` and their
``.j2`` forms), off for everything else (``.txt.j2``): a text template must get its
values already sanitised (see :func:`~.formatting.flat_text_field`). Undefined names
raise (``StrictUndefined``) instead of printing nothing, and blocks swallow the newline
after them (``trim_blocks``/``lstrip_blocks``) so line-oriented text templates stay
readable. Templates are looked up in the given search path in order, so a user's own
directory placed first overrides a built-in template of the same name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["AUTOESCAPE_EXTENSIONS", "default_template_dir", "make_environment", "make_renderer", "render"]

#: Template name endings rendered with HTML autoescaping.
AUTOESCAPE_EXTENSIONS = ("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2")


def default_template_dir() -> Path:
    """Return the directory holding the built-in report templates.

    An installed package ships them as ``contact_center_provider/templates``; in a
    source checkout they live in the repository's ``include/templates``.

    :raises FileNotFoundError: when neither directory exists.
    """
    here = Path(__file__).resolve()
    candidates = (here.parents[2] / "templates", here.parents[4] / "include" / "templates")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "Built-in report templates not found; looked in " + ", ".join(str(c) for c in candidates)
    )


def make_environment(search_path: Sequence[str | Path]) -> jinja2.Environment:
    """Build the report environment over ``search_path`` (searched in order).

    :param search_path: directories holding templates; earlier ones win.
    """
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=AUTOESCAPE_EXTENSIONS, default_for_string=True, default=False
        ),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def make_renderer(search_path: Sequence[str | Path] | None = None) -> Callable[[str, Mapping[str, Any]], str]:
    """Return ``render(template_name, context) -> text`` over one environment (templates compiled once).

    :param search_path: template directories; defaults to the built-in templates only.
    """
    environment = make_environment(list(search_path) if search_path is not None else [default_template_dir()])

    def render_one(template_name: str, context: Mapping[str, Any]) -> str:
        return environment.get_template(template_name).render(**context)

    return render_one


def render(
    template_name: str,
    context: Mapping[str, Any],
    search_path: Sequence[str | Path] | None = None,
) -> str:
    """Render ``template_name`` with ``context``.

    :param template_name: file name relative to a search path directory, e.g. ``presence.html.j2``.
    :param context: the template's variables.
    :param search_path: template directories; defaults to the built-in templates only.
    """
    path = list(search_path) if search_path is not None else [default_template_dir()]
    return make_environment(path).get_template(template_name).render(**context)
