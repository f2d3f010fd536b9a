"""The built book, read in a real browser: every page renders, offline, the way a reader sees it.

A local HTTP server (a thread, 127.0.0.1, an ephemeral port) serves ``_build/html``; Playwright drives the
system's Chromium (Debian's ``chromium``; Playwright's own browser download is never used) through each page
of the table of contents and checks what a reader would notice: errors in the console, maths left as raw TeX
or rendered as a MathJax error, images that did not load or have no alt text, Colab buttons that open the
wrong notebook (Binder too), a search that finds nothing, figures unreadable in dark mode. Every request that leaves
127.0.0.1 is blocked and counted as a failure, so the book is proved to work with no internet.

The book must be built first (``make book``); when ``_build/html/index.html`` is missing this module builds
it. ``BOOK_HTML=path/to/html`` checks another build of the same book instead (the student edition). The
tests skip, saying why, where Playwright or Chromium is not installed, except under CI (``CI`` set), where a
missing browser is a failure: CI installs it.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HTML = ROOT / "_build" / "html"
# Another build of the same book can be checked instead, e.g. the student edition (see teaching.md).
HTML = Path(os.environ.get("BOOK_HTML") or DEFAULT_HTML).resolve()
BROWSER_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
    "--disable-sync", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
    "--metrics-recording-only", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
]
# TeX that MathJax should have consumed: $$, \( \) \[ \], \commands, and $...$ holding TeX syntax.
RAW_TEX = re.compile(r"\$\$|\\[()\[\]]|\\[A-Za-z]{2,}|\$[^$\n]{0,80}[\\^_{}][^$\n]{0,80}\$")
TIMEOUT_MS = 20_000


def _unavailable(reason: str) -> None:
    """Skip where the browser stack is absent, but fail under CI, which installs it."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: see .ci/run)")
    pytest.skip(reason)


def _chromium() -> str | None:
    for candidate in (os.environ.get("BOOK_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _toc_files() -> list[str]:
    """The documents of the table of contents, in reading order, without suffix (``chapters/01_mechanism``)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node or "root" in node:
                files.append(str(node.get("file", node.get("root"))))
            for key in ("parts", "chapters", "sections"):
                walk(node.get(key, []))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [re.sub(r"\.(md|ipynb)$", "", f) for f in files]


TOC_FILES = _toc_files()


def _is_notebook(doc: str) -> bool:
    return (ROOT / f"{doc}.ipynb").is_file()


def _launch_urls(doc: str) -> dict[str, str]:
    """Where the Colab and Binder buttons of notebook ``doc`` must lead, from _config.yml's repository URL."""
    config = _config()
    repo, buttons = config["repository"], config["launch_buttons"]
    owner_name = urlsplit(repo["url"]).path.strip("/").removesuffix(".git")
    branch = repo.get("branch", "main")
    path = "/".join(p for p in (str(repo.get("path_to_book") or "").strip("/"), f"{doc}.ipynb") if p)
    # Colab opens the notebook's plain-Markdown edition under colab/ (_ext/colab_editions.py)
    urls = {"colab": f"{buttons['colab_url'].rstrip('/')}/github/{owner_name}/blob/{branch}/colab/{path}"}
    if buttons.get("binderhub_url"):
        urls["binder"] = f"{buttons['binderhub_url'].rstrip('/')}/v2/gh/{owner_name}/{branch}?urlpath=tree/{path}"
    return urls


@pytest.fixture(scope="module")
def book() -> Path:
    """``_build/html``, built with the Makefile's flags when it is not there yet."""
    if not (HTML / "index.html").is_file():
        assert HTML == DEFAULT_HTML.resolve(), f"BOOK_HTML={HTML} holds no built book (no index.html)"
        jupyter_book = Path(sys.executable).with_name("jupyter-book")
        command = [str(jupyter_book if jupyter_book.exists() else "jupyter-book"), "build", str(ROOT),
                   "--builder", "html", "-W", "-n", "--keep-going"]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, f"the book did not build:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    built = {p.relative_to(HTML).with_suffix("").as_posix() for p in HTML.rglob("*.html")
             if p.relative_to(HTML).parts[0] not in ("_static", "_sources", "_images")}
    built -= {"index", "genindex", "search"}
    assert built == set(TOC_FILES), (
        f"_build/html does not match _toc.yml (a stale build? run `make book`): only built "
        f"{sorted(built - set(TOC_FILES))}, only in the TOC {sorted(set(TOC_FILES) - built)}"
    )
    return HTML


@pytest.fixture(scope="module")
def server(book: Path):
    """The book over HTTP on 127.0.0.1 and an ephemeral port, as a reader's browser gets it."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed")
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium at /usr/bin/chromium or on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS, headless=True)
        yield launched
        launched.close()


class Visit:
    """One page in a fresh browser context, recording console errors and every request leaving 127.0.0.1."""

    def __init__(self, browser, server: str):
        self.context = browser.new_context(color_scheme="light", service_workers="block")
        self.errors: list[str] = []
        self.external: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status}: {r.url}"))
        self.server = server

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.server + "/") or url.split(":", 1)[0] in ("data", "blob", "about"):
            route.continue_()
        else:
            self.external.append(url)
            route.abort("blockedbyclient")

    def open(self, path: str):
        self.page.goto(f"{self.server}/{path}", wait_until="load")
        return self.page

    def close(self) -> None:
        self.context.close()


MATH_STATE = """async () => {
  const maths = Array.from(document.querySelectorAll('.math'));
  if (maths.length === 0) return {count: 0};
  const ready = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
  for (let waited = 0; !ready() && waited < 10000; waited += 100) await new Promise(r => setTimeout(r, 100));
  if (!ready()) return {count: maths.length, loaded: false};
  await MathJax.startup.promise;
  return {
    count: maths.length, loaded: true,
    untypeset: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80)),
    errors: Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]'))
      .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80)),
    // MathJax shows an unknown command such as \fraq as red text rather than as an error
    undefined: Array.from(document.querySelectorAll('mjx-container')).filter(c => c.querySelector(
      'mjx-mtext[style*="color: red"]')).map(c => c.querySelector('mjx-assistive-mml')?.textContent || '?'),
  };
}"""

PROSE_TEXT = """() => {
  const root = (document.querySelector('main') || document.body).cloneNode(true);
  root.querySelectorAll('pre, code, .highlight, script, style, mjx-container, mjx-assistive-mml, textarea')
    .forEach(e => e.remove());
  return root.textContent;
}"""

IMAGES = """async () => {
  const images = Array.from(document.images);
  images.forEach(img => { img.loading = 'eager'; });
  const settled = img => img.complete ? null : new Promise(r => {
    img.addEventListener('load', r); img.addEventListener('error', r); setTimeout(r, 10000); });
  await Promise.all(images.map(settled));
  return images.map(img => ({
    src: img.getAttribute('src'), loaded: img.complete && img.naturalWidth > 0, alt: img.getAttribute('alt') || '',
    figure: !!img.closest('article') && !img.closest('.dropdown, .btn, .header-article-items, nav'),
  }));
}"""

FIGURE_BACKGROUNDS = """() => Array.from(document.querySelectorAll('article img')).map(img => {
  const [r, g, b, a = 1] = getComputedStyle(img).backgroundColor.match(/[\\d.]+/g).map(Number);
  return {src: img.getAttribute('src'), luminance: a === 0 ? 0 : (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255};
})"""


@pytest.mark.parametrize("doc", TOC_FILES)
def test_page_renders_offline(doc: str, browser, server: str) -> None:
    visit = Visit(browser, server)
    try:
        page = visit.open(f"{doc}.html")
        problems: list[str] = []

        math = page.evaluate(MATH_STATE)
        if math["count"]:
            if not math["loaded"]:
                problems.append(f"{math['count']} maths on the page but MathJax never loaded")
            else:
                problems += [f"maths not typeset: {tex!r}" for tex in math["untypeset"]]
                problems += [f"MathJax error: {error!r}" for error in math["errors"]]
                problems += [f"unknown TeX command in: {tex!r}" for tex in math["undefined"]]
        raw = dict.fromkeys(m.group() for m in RAW_TEX.finditer(page.evaluate(PROSE_TEXT)))
        problems += [f"raw TeX in the text: {tex!r}" for tex in raw]

        for image in page.evaluate(IMAGES):
            if not image["loaded"]:
                problems.append(f"image did not load: {image['src']}")
            name = Path(image["src"] or "").name
            if image["figure"] and (not image["alt"].strip() or image["alt"].endswith(name)):
                problems.append(f"figure without alt text: {image['src']} (set mystnb.image.alt in the cell)")

        if _is_notebook(doc):
            launch = page.eval_on_selector_all(".dropdown-launch-buttons a", "els => els.map(e => e.href)")
            problems += [f"no {name} launch button to {url}; the buttons lead to {launch}"
                         for name, url in _launch_urls(doc).items() if url not in launch]
        # Any other Colab link on the page (an exercise's student version) must open a notebook of this repository.
        colab_prefix = _launch_urls(doc)["colab"].removesuffix(f"{doc}.ipynb")
        for url in page.eval_on_selector_all('a[href*="colab.research.google.com"]', "els => els.map(e => e.href)"):
            if not (url.startswith(colab_prefix) and (ROOT / url.removeprefix(colab_prefix)).is_file()):
                problems.append(f"Colab link to no notebook of the repository: {url}")

        # The theme follows the reader's dark preference; figures (black text) must keep a light backdrop.
        page.emulate_media(color_scheme="dark")
        page.wait_for_function("document.documentElement.dataset.theme === 'dark'")
        problems += [f"figure on a dark backdrop in dark mode: {f['src']} (luminance {f['luminance']:.2f})"
                     for f in page.evaluate(FIGURE_BACKGROUNDS) if f["luminance"] < 0.6]

        page.wait_for_load_state("networkidle")
        problems += visit.errors
        problems += [f"request outside the book (fails offline): {url}" for url in visit.external]
        assert not problems, f"{doc}.html:\n  " + "\n  ".join(problems)
    finally:
        visit.close()


def test_search_finds_activation(browser, server: str) -> None:
    visit = Visit(browser, server)
    try:
        page = visit.open("search.html?q=activation")
        page.wait_for_function(
            "/Search finished|did not match/.test(document.querySelector('#search-results')?.textContent || '')")
        results = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
        assert results, "searching 'activation' found no page"
        for url in results:
            target = HTML / urlsplit(url).path.lstrip("/")
            assert target.is_file(), f"a search result points to a missing page: {url}"
        assert not visit.errors and not visit.external, visit.errors + visit.external
    finally:
        visit.close()


def test_index_redirects_to_the_first_page(browser, server: str) -> None:
    visit = Visit(browser, server)
    try:
        page = visit.open("index.html")
        page.wait_for_url(re.compile(rf"/{re.escape(TOC_FILES[0])}\.html"))
        assert page.title(), "the landing page has no title"
        assert not visit.errors and not visit.external, visit.errors + visit.external
    finally:
        visit.close()
