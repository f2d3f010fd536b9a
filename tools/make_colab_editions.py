"""Write the Colab edition of every notebook the book opens in Colab: the book's markup turned into plain Markdown.

The book's notebooks speak MyST: ``{glue:text}`name:.3f``` for computed numbers, ``{cite}`key``` for papers,
``{term}``, ``{doc}``, ``{numref}``, ``{eq}`` for cross-references, ``:::{directive}`` fences. Plain Jupyter
and Colab show all of it raw. This script derives, for each notebook under chapters/ and exercises/ (the
student versions included), ``colab/<same path>``, which the book's Colab links and launch buttons open
(tools/sync_notebooks.py, _ext/colab_editions.py). In it:

* a glued number is the value of the book's build, read from ``_build/jupyter_execute/<path>.glue.json``
  (myst-nb writes it when the book is built); each cell that quotes one says so, and names the code cells
  that recompute them;
* a citation becomes author-year text linked to the book's bibliography page;
* a glossary term, a cross-reference or a link to another page becomes plain words or a link to the published
  book, whose address is set once, in _config.yml (``html.baseurl``);
* ``{eq}`` references and ``$$ ... $$ (label)`` equations get numbers; ``{numref}`` to a figure of the same
  notebook becomes "the figure above/below";
* directive fences become Markdown: admonitions a quote, dropdowns a ``<details>`` block, the exercise box
  bold text.

Code cells are copied unchanged. The values used are stored in the edition's metadata, so that
tests/test_colab_editions.py can check, without building the book, that every edition is what this script
writes from today's sources. Run it after building the book:

    .venv/bin/jupyter-book build .            # or: make book
    .venv/bin/python tools/make_colab_editions.py

Without a build, values already in the committed editions are kept; a glued name with no value anywhere is an
error (``--allow-missing`` writes a placeholder instead).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
import unicodedata
from pathlib import Path

import nbformat
import yaml

if __package__ in (None, ""):  # run as a script: make `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.sync_notebooks import BADGE_TAG, ROOT, colab_edition, notebooks  # noqa: E402

EXECUTED = ROOT / "_build" / "jupyter_execute"
META_KEY = "colab_edition"
MISSING = "(value computed when you run the notebook)"

ROLE = re.compile(r"\{([a-zA-Z][\w:+-]*)\}`([^`]*)`")
FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:+-]+)\}[ \t]*(?P<arg>.*)$")
PLAIN_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
OPTION = re.compile(r"^[ \t]*:([\w-]+):[ \t]*(.*)$")
TARGET = re.compile(r"^\([\w:.-]+\)=[ \t]*\n?", re.MULTILINE)
EQUATION = re.compile(r"\$\$(?P<body>.+?)\$\$[ \t]*\((?P<label>[\w:.-]+)\)", re.DOTALL)
LINK = re.compile(r"\]\((?!https?:|mailto:|#)(?P<path>[^)#\s]+\.(?:md|ipynb))(?P<anchor>#[^)\s]*)?\)")
TITLED = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error", "seealso",
               "admonition", "margin", "sidebar", "epigraph", "topic"}


# --- where things are ------------------------------------------------------------------------------------------

def book_url() -> str:
    """The published book's address: ``html.baseurl`` in _config.yml, else GitHub Pages of the repository."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    base = (config.get("html") or {}).get("baseurl")
    if not base:
        owner, name = config["repository"]["url"].rstrip("/").removeprefix("https://github.com/").split("/")[:2]
        base = f"https://{owner}.github.io/{name}/"
    return base.rstrip("/") + "/"


def page_url(path: Path, anchor: str = "") -> str:
    """The published page of a source file (``chapters/05_cam.ipynb`` -> ``.../chapters/05_cam.html``)."""
    relative = path.resolve().relative_to(ROOT).with_suffix(".html").as_posix()
    return f"{book_url()}{relative}{anchor}"


def book_source(notebook: Path) -> Path:
    """The notebook the book builds for ``notebook``: a student version is built as its solution's page."""
    if notebook.parent.name == "student" and notebook.parent.parent == ROOT / "exercises":
        return ROOT / "exercises" / notebook.name
    return notebook


# --- values and references -------------------------------------------------------------------------------------

def built_values(notebook: Path, executed: Path = EXECUTED) -> dict[str, dict]:
    """The glued outputs of the book's build for ``notebook`` (name -> mime bundle), or {} without a build."""
    glue_file = executed / book_source(notebook).relative_to(ROOT).with_suffix(".glue.json")
    if not glue_file.exists():
        return {}
    return {name: output.get("data", {}) for name, output in json.loads(glue_file.read_text()).items()}


def _format(bundle: dict, spec: str) -> str:
    text = bundle.get("text/plain", "")
    if not spec:
        return text
    try:
        return format(ast.literal_eval(text), spec)
    except (ValueError, SyntaxError, TypeError):
        return text


ACCENTS = {"'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303", "c": "\u0327",
           "v": "\u030c"}


def _latex_to_text(text: str) -> str:
    """BibTeX's accents and braces as Unicode text: ``Radenovi{\\'c}`` -> ``Radenović``."""
    text = re.sub(r"""\\(['"`^~cv])\s*\{?([A-Za-z])\}?""", lambda m: m.group(2) + ACCENTS[m.group(1)], text)
    return unicodedata.normalize("NFC", re.sub(r"[{}]", "", text))


def bibliography() -> dict[str, tuple[str, str]]:
    """Citation key -> (authors as cited, year), read from references.bib."""
    entries = {}
    text = (ROOT / "references.bib").read_text()
    for match in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, re.DOTALL):
        key, body = match.groups()
        fields = {name.lower(): value for name, value in
                  re.findall(r"(\w+)\s*=\s*[{\"](.*?)[}\"]\s*,?\s*$", body, re.MULTILINE)}
        names = [n.strip() for n in _latex_to_text(fields.get("author", key)).split(" and ")]
        surnames = [n.split(",")[0].strip() if "," in n else n.split()[-1] for n in names if n]
        if len(surnames) > 2:
            who = f"{surnames[0]} et al."
        else:
            who = " and ".join(surnames)
        entries[key] = (who, re.sub(r"[{}]", "", fields.get("year", "")))
    return entries


def notebook_title(path: Path) -> str:
    if path.suffix == ".ipynb" and path.exists():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown" and (match := re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)):
                return match.group(1).strip()
    if path.suffix == ".md" and path.exists():
        if match := re.search(r"^#\s+(.+)$", path.read_text(), re.MULTILINE):
            return match.group(1).strip()
    return path.stem.replace("_", " ")


class Converter:
    """Turns one notebook's MyST markdown into plain Markdown."""

    def __init__(self, notebook: Path, values: dict[str, dict], allow_missing: bool = False):
        self.notebook, self.values, self.allow_missing = notebook, values, allow_missing
        self.folder = notebook.parent
        self.bib = bibliography()
        self.used: set[str] = set()
        self.in_cell: set[str] = set()  # the names quoted by the cell being converted
        self.equations: dict[str, int] = {}
        self.figures: dict[str, int] = {}  # figure name -> cell index
        self.cell = 0

    # roles
    def role(self, name: str, content: str) -> str:
        kind, _, variant = name.partition(":")
        if kind == "glue":
            key, _, spec = content.partition(":")
            key = key.strip()
            if key not in self.values:
                if self.allow_missing:
                    return MISSING
                raise KeyError(f"{self.notebook.relative_to(ROOT)}: no value for glue {key!r}; build the book first")
            self.used.add(key)
            self.in_cell.add(key)
            bundle = self.values[key]
            if variant == "md" and "text/markdown" in bundle:
                return bundle["text/markdown"]
            return _format(bundle, spec)
        if kind == "cite":
            return self.cite(content, variant)
        text, target = self.split(content)
        if kind == "term":
            return f"[{text or target}]({book_url()}glossary.html)"
        if kind == "doc":
            path = (self.folder / target).resolve()
            candidates = [path.with_suffix(s) for s in (".ipynb", ".md")] + [path]
            found = next((c for c in candidates if c.exists()), path.with_suffix(".md"))
            return f"[{text or notebook_title(found)}]({page_url(found)})"
        if kind == "numref":
            return self.numref(text, target)
        if kind == "eq":
            number = self.equations.get(target)
            return f"({number})" if number else f"[the equation]({page_url(book_source(self.notebook))}#{target})"
        if kind == "ref":
            return f"[{text or target.replace('-', ' ')}]({page_url(book_source(self.notebook))}#{target})"
        if kind == "math":
            return f"${content}$"
        return text or target  # any other role: its words

    @staticmethod
    def split(content: str) -> tuple[str, str]:
        if match := TITLED.match(content.strip()):
            return match.group("text").strip(), match.group("target").strip()
        return "", content.strip()

    def cite(self, content: str, variant: str) -> str:
        parts = []
        for key in (k.strip() for k in content.split(",")):
            who, year = self.bib.get(key, (key, ""))
            parts.append((who, year))
        link = f"{book_url()}bibliography.html"
        if variant.startswith("p"):
            return "(" + "; ".join(f"[{who} {year}]({link})" for who, year in parts) + ")"
        return "; ".join(f"[{who} ({year})]({link})" for who, year in parts)

    def numref(self, text: str, target: str) -> str:
        if target in self.figures:
            where = "above" if self.figures[target] < self.cell else "below"
            return f"the figure {where}"
        words = re.sub(r"%s|\{number\}", "", text).strip() or "the figure"
        return f"[{words}]({page_url(book_source(self.notebook))}#{target})"

    # text
    def markdown(self, source: str) -> str:
        """A markdown cell's source in plain Markdown (equations numbered, targets dropped)."""
        source = EQUATION.sub(lambda m: f"$${m.group('body').rstrip()} \\tag{{{self.equations[m.group('label')]}}}$$",
                              source)
        return self.convert(TARGET.sub("", source)).strip("\n")

    def convert(self, source: str) -> str:
        out, lines, index = [], source.split("\n"), 0
        while index < len(lines):
            line = lines[index]
            if match := FENCE_OPEN.match(line):
                fence = match.group("fence")
                closer = re.compile(rf"^[ \t]*{re.escape(fence)}[ \t]*$")
                depth, end = 0, len(lines)
                for j in range(index + 1, len(lines)):
                    if FENCE_OPEN.match(lines[j]) and FENCE_OPEN.match(lines[j]).group("fence") == fence:
                        depth += 1
                    elif closer.match(lines[j]):
                        if depth == 0:
                            end = j
                            break
                        depth -= 1
                body = lines[index + 1:end]
                options = {}
                while body and (option := OPTION.match(body[0])):
                    options[option.group(1)] = option.group(2)
                    body = body[1:]
                out.append(self.directive(match.group("name"), match.group("arg").strip(), options,
                                          self.convert("\n".join(body)).strip("\n")))
                index = end + 1
                continue
            if PLAIN_FENCE.match(line):  # a code block: copied as it is
                fence = PLAIN_FENCE.match(line).group(1)
                end = next((j for j in range(index + 1, len(lines)) if lines[j].strip().startswith(fence)),
                           len(lines) - 1)
                out.extend(lines[index:end + 1])
                index = end + 1
                continue
            out.append(self.inline(line))
            index += 1
        return "\n".join(out)

    def inline(self, line: str) -> str:
        line = ROLE.sub(lambda m: self.role(m.group(1), m.group(2)), line)
        return LINK.sub(lambda m: f"]({page_url((self.folder / m.group('path')).resolve(), m.group('anchor') or '')})",
                        line)

    def directive(self, name: str, argument: str, options: dict[str, str], body: str) -> str:
        dropdown = "dropdown" in options.get("class", "") or name in ("dropdown", "toggle")
        if name in ("exercise",):
            return f"**Exercise: {self.inline(argument)}.**\n\n{body}" if argument else f"**Exercise.**\n\n{body}"
        if name == "solution-start":
            return "**Solution** (try the exercise first):"
        if name == "solution-end":
            return ""
        if name in ("solution",):
            return f"<details><summary><b>Solution</b></summary>\n\n{body}\n\n</details>"
        if name in ("math",):
            return f"$$\n{body}\n$$"
        if name in ("code-block", "code", "code-cell"):
            return f"```{argument}\n{body}\n```"
        if name in ("tableofcontents", "bibliography", "glossary") or name.startswith("glue"):
            return ""
        if name in ("figure", "image"):
            alt = options.get("alt", "figure")
            return f"![{alt}]({argument})\n\n{body}".strip()
        title = self.inline(argument) if argument else (name.capitalize() if name != "admonition" else "")
        if dropdown:
            return f"<details><summary><b>{title or 'Details'}</b></summary>\n\n{body}\n\n</details>"
        if name in ADMONITIONS or name in ("dropdown", "toggle"):
            quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
            return f"> **{title}.**\n>\n{quoted}" if title else quoted
        return body


def _number_equations(nb: nbformat.NotebookNode) -> dict[str, int]:
    labels = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for match in EQUATION.finditer(cell.source):
                labels.setdefault(match.group("label"), len(labels) + 1)
    return labels


def _figures(nb: nbformat.NotebookNode) -> dict[str, int]:
    names = {}
    for index, cell in enumerate(nb.cells):
        name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
        if name:
            names[name] = index
    return names


def _glue_cells(nb: nbformat.NotebookNode) -> dict[str, int]:
    """Glued name -> the number (1-based, code cells only) of the code cell that computes it."""
    where, count = {}, 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        for name in re.findall(r"\bglue\(\s*[\"']([\w]+)[\"']", cell.source):
            where.setdefault(name, count)
    return where


def edition(notebook: Path, values: dict[str, dict], allow_missing: bool = False) -> nbformat.NotebookNode:
    """The Colab edition of ``notebook`` with glued ``values`` (nothing is written)."""
    nb = nbformat.read(notebook, as_version=4)
    converter = Converter(notebook, values, allow_missing)
    converter.equations = _number_equations(nb)
    converter.figures = _figures(nb)
    computed_in = _glue_cells(nb)
    out = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(out.cells):
        converter.cell = index
        if BADGE_TAG in cell.metadata.get("tags", []) and "remove-cell" in cell.metadata.get("tags", []):
            continue  # "open this notebook in Colab", inside Colab
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cells.append(cell)
            continue
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        converter.in_cell = set()
        source = converter.markdown(cell.source)
        quoted = sorted(converter.in_cell, key=lambda n: computed_in.get(n, 0))
        if quoted:
            cells_named = sorted({computed_in[n] for n in quoted if n in computed_in})
            where = (f"code cell{'s' if len(cells_named) > 1 else ''} "
                     f"{', '.join(str(n) for n in cells_named)} of this notebook" if cells_named
                     else "the code cells above")
            source += (f"\n\n<sub>The numbers in this cell are those of the book's build; {where} "
                       f"recompute{'s' if len(cells_named) == 1 else ''} them when you run it, on your machine "
                       "perhaps with other values and the same conclusions.</sub>")
        if not source.strip():
            continue
        cell.source = source
        cells.append(cell)
    out.cells = cells
    used = {name: values[name] for name in sorted(converter.used)}
    out.metadata[META_KEY] = {
        "source": notebook.relative_to(ROOT).as_posix(),
        "note": "Generated by tools/make_colab_editions.py from the source; do not edit.",
        "glue": {name: {"text/plain": bundle.get("text/plain", "")} | (
            {"text/markdown": bundle["text/markdown"]} if "text/markdown" in bundle else {})
            for name, bundle in used.items()},
    }
    return out


def committed_values(notebook: Path) -> dict[str, dict]:
    """The glued values stored in the committed Colab edition of ``notebook``, or {}."""
    target = colab_edition(notebook)
    if not target.exists():
        return {}
    return dict(nbformat.read(target, as_version=4).metadata.get(META_KEY, {}).get("glue", {}))


def sources() -> list[Path]:
    """Every notebook the book can open in Colab: chapters, exercises and their student versions."""
    return notebooks()


def stale_editions() -> list[Path]:
    """Editions missing, or different from what the sources and their committed values give."""
    stale = []
    for notebook in sources():
        target = colab_edition(notebook)
        try:
            expected = nbformat.writes(edition(notebook, committed_values(notebook)))
        except KeyError:
            stale.append(target)
            continue
        if not target.exists() or nbformat.writes(nbformat.read(target, as_version=4)) != expected:
            stale.append(target)
    wanted = {colab_edition(n) for n in sources()}
    stale += [p for p in sorted((ROOT / "colab").rglob("*.ipynb")) if p not in wanted]
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executed", type=Path, default=EXECUTED,
                        help="the executed notebooks of a book build (default: _build/jupyter_execute)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="write a placeholder for a glued value that no build provides")
    args = parser.parse_args(argv)
    wanted = set()
    for notebook in sources():
        values = committed_values(notebook) | built_values(notebook, args.executed)
        target = colab_edition(notebook)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(edition(notebook, values, args.allow_missing), target)
        wanted.add(target)
    for orphan in (ROOT / "colab").rglob("*.ipynb"):
        if orphan not in wanted:
            orphan.unlink()
            print(f"removed {orphan.relative_to(ROOT)}: its source is gone")
    print(f"wrote {len(wanted)} Colab editions under colab/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
