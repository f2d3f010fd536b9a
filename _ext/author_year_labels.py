"""Bibliography labels in the form the text cites: "Zhou et al., 2016", not pybtex's alpha "[ZKL+16]".

The book cites with ``bibtex_reference_style: author_year`` ("Zhou et al. (2016)"), but the bibliography
takes its labels from the formatting style, whose default labels are alpha keys. This registers a pybtex
style, ``authoryear``: pybtex's ``unsrt`` entries, sorted by author, year and title, labelled with the
first author's last name ("and Name" for two authors, "et al." for more) and the year, with "a", "b"
appended where two entries would otherwise share a label. ``_config.yml`` selects it with
``bibtex_default_style: authoryear``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from pybtex.database import Entry, Person
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


def _last_name(person: Person) -> str:
    """A person's last name as plain text: TeX braces and accent commands dropped."""
    name = " ".join(person.prelast_names + person.last_names)
    name = re.sub(r"\\[a-zA-Z]+\s*|\\.", "", name)
    return name.replace("{", "").replace("}", "").strip()


def author_year(entry: Entry) -> str:
    """The label of one entry, without a disambiguating letter."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_name(p) for p in persons]
    if not names:
        who = entry.fields.get("organization") or entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries: Iterable[Entry]) -> Iterator[str]:
        entries = list(sorted_entries)
        labels = [author_year(entry) for entry in entries]
        counts = Counter(labels)
        seen: Counter[str] = Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                yield f"{label}{chr(ord('a') + seen[label] - 1)}"
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


def setup(app: Any) -> dict[str, Any]:
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
