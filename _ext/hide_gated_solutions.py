"""Make sphinx-exercise's ``hide_solutions`` hide gated solutions too, for the student edition of the book.

The exercises keep their solution code in notebook cells between ``{solution-start}`` and ``{solution-end}``.
With ``hide_solutions: true``, sphinx-exercise 1.2 drops the start marker but keeps the end marker, which no
HTML writer knows (the build crashes), and every cell in between (the solution would show). Here the start
leaves a marker instead, and a transform removes the marker, the cells and the end marker together, before
sphinx-exercise merges the gated solutions that remain.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node


class HiddenSolutionMarker(nodes.Element):
    """Where a hidden gated solution begins; removed while the page is read, never written."""


class HiddenSolutionStart(SolutionStartDirective):
    def run(self) -> list[nodes.Node]:
        shown = super().run()  # also records the directive, for sphinx-exercise's check of the gated structure
        return shown if not self.config.hide_solutions else [HiddenSolutionMarker()]


class RemoveHiddenSolutions(SphinxTransform):
    default_priority = 5  # before sphinx-exercise's MergeGatedSolutions (10)

    def apply(self, **kwargs: Any) -> None:
        for start in list(self.document.findall(HiddenSolutionMarker)):
            parent = start.parent
            following = parent.children[parent.index(start):]
            end = next((i for i, node in enumerate(following) if isinstance(node, solution_end_node)), 0)
            # With no end marker sphinx-exercise reports the broken structure; only the marker goes here.
            for node in following[: end + 1]:
                parent.remove(node)


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx_exercise")
    app.add_node(HiddenSolutionMarker)
    app.add_directive("solution-start", HiddenSolutionStart, override=True)
    app.add_transform(RemoveHiddenSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
