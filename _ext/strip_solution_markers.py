"""Leave the solution markers of the exercises out of the rendered code.

An exercise notebook wraps its solution code in ``# BEGIN SOLUTION`` / ``# END SOLUTION`` comment lines, so
that ``tools/make_student_notebooks.py`` can cut the solution out of the student version. The reader of the
book has no use for them: this transform removes those two comment lines from every notebook cell's source
as it is rendered. The notebook files keep them (the generator still finds them), and so does the
``.ipynb`` that the download button serves.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from sphinx.transforms import SphinxTransform

MARKER = re.compile(r"^[ \t]*# (BEGIN|END) SOLUTION[ \t]*$")


def without_markers(source: str) -> str:
    """``source`` without its marker lines; every other line, indentation included, as it was."""
    return "\n".join(line for line in source.split("\n") if not MARKER.match(line))


class StripSolutionMarkers(SphinxTransform):
    default_priority = 400

    def apply(self, **kwargs: Any) -> None:
        for block in list(self.document.findall(nodes.literal_block)):
            if block.parent.get("nb_element") != "cell_code_source":
                continue
            text = block.astext()
            cleaned = without_markers(text)
            if cleaned != text:
                block.rawsource = cleaned
                block.children = [nodes.Text(cleaned)]


def setup(app: Any) -> dict[str, Any]:
    app.add_transform(StripSolutionMarkers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
