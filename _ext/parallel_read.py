"""Let `make book` read (and so execute) two notebooks at once: Sphinx's -j needs every extension to say that
it is safe for parallel reading, and three of Jupyter Book's own extensions never say so.

Checked by reading their code (versions in requirements.lock): sphinx_multitoc_numbering renumbers sections
after reading, in the main process; sphinx_jupyterbook_latex acts only in the LaTeX builder and sets two flags
at builder-inited, before any worker starts; sphinx-mathjax-offline copies files once the build has finished.
None keeps state that parallel readers would need to merge. Without this file Sphinx quietly reads serially.

Sphinx hands each reader process a run of consecutive documents in alphabetical order, which would give one
process every chapter and the other the light exercises; the documents are dealt out instead, notebooks first,
so the two processes get a similar share of the notebooks.
"""

from sphinx.util.parallel import make_chunks

SAFE_WITHOUT_SAYING = ("sphinx_multitoc_numbering", "sphinx_jupyterbook_latex", "sphinx-mathjax-offline")


def _declare(app, config):
    for name in SAFE_WITHOUT_SAYING:
        extension = app.extensions.get(name)
        if extension is not None and extension.parallel_read_safe is None:
            extension.parallel_read_safe = True


def _deal_out(app, env, docnames):
    if app.parallel < 2 or len(docnames) <= 5:
        return
    chunks = make_chunks(list(range(len(docnames))), app.parallel)
    hands = [[] for _ in chunks]
    notebooks_first = sorted(docnames, key=lambda name: (not env.doc2path(name).endswith(".ipynb"), name))
    # notebooks go round the first `parallel` chunks, which start at once; the rest fill whatever room is left
    turn = 0
    for name in notebooks_first:
        for _ in range(len(chunks)):
            index = turn % (app.parallel if env.doc2path(name).endswith(".ipynb") else len(chunks))
            turn += 1
            if len(hands[index]) < len(chunks[index]):
                hands[index].append(name)
                break
        else:
            hands[next(i for i, hand in enumerate(hands) if len(hand) < len(chunks[i]))].append(name)
    docnames[:] = [name for hand in hands for name in hand]


def setup(app):
    # config-inited comes after every extension in the configuration has been set up
    app.connect("config-inited", _declare)
    app.connect("env-before-read-docs", _deal_out)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
