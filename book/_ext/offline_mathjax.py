"""Sphinx extension: serve MathJax from the book itself, so its formulas render without internet access.

Uses the MathJax 2.7 copy that the jupyter-server-mathjax package ships (a dependency of qrepro[book]):
its files are added to the static files of the build, and every page loads MathJax from there.
"""
from pathlib import Path

import jupyter_server_mathjax
from sphinx.application import Sphinx


def setup(app: Sphinx) -> dict:
    app.config.html_static_path.append(str(Path(jupyter_server_mathjax.__file__).parent / "static"))
    app.config.mathjax_path = "MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
    # MathJax 2 reads math only inside these classes (MyST marks math with "math", notebooks "output_area")
    # in the one web font that package ships (STIX-Web)
    app.config.mathjax2_config = {
        "tex2jax": {"processClass": "tex2jax_process|mathjax_process|math|output_area",
                    "ignoreClass": "tex2jax_ignore|mathjax_ignore"},
        "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
    }
    return {"parallel_read_safe": True, "parallel_write_safe": True}
