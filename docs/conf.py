"""Sphinx configuration: Markdown pages (MyST) and an API reference from numpydoc."""

import al_adapters

project = "al_adapters"
author = "al_adapters developers"
copyright = "the al_adapters developers"
release = al_adapters.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
templates_path = ["_templates"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

html_theme = "furo"
html_title = "al_adapters"
