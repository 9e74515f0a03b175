# Sphinx configuration of the trio-cpp documentation: Markdown pages (MyST) and a reference rendered by
# Breathe from Doxygen's XML of the public headers. Build with ./scripts/docs (it runs Doxygen first).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext"))

project = "trio-cpp"
author = "the trio-cpp authors"
copyright = "the trio-cpp authors"

extensions = ["myst_parser", "breathe", "trio_reference"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["snippets/**", "_ext/**", "_build", "Doxyfile"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # links to #a-heading in another page resolve (and are checked)

_here = os.path.dirname(os.path.abspath(__file__))
breathe_projects = {"trio": os.environ.get("TRIO_DOXYGEN_XML", os.path.join(_here, "..", "build", "docs", "doxygen", "xml"))}
breathe_default_project = "trio"
breathe_default_members = ("members",)
breathe_show_include = True

highlight_language = "cpp"
primary_domain = "cpp"
html_theme = "furo"
html_title = "trio-cpp"
html_static_path = []
html_copy_source = False
html_show_sourcelink = False
