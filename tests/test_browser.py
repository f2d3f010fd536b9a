"""The built book, read in a real browser: every page renders, offline, and can be used the way a reader does.

A local HTTP server (a thread, 127.0.0.1, an ephemeral port) serves ``_build/html``; Playwright drives the
system's Chromium (Debian's ``chromium``; Playwright's own browser download is never used) through each page
of the table of contents and checks what a reader would notice: errors in the console, maths left as raw TeX
or rendered as a MathJax error, images that did not load or have no alt text, Colab buttons that open the
wrong notebook (Binder too), a search that finds nothing, figures unreadable in dark mode. Every request that leaves
127.0.0.1 is blocked and counted as a failure, so the book is proved to work with no internet.

At a desktop width (1280 px) each page must also be *legible*: no display equation wider than the text
column, no code line cut off, every figure shown at no less than ``MIN_FIGURE_SCALE`` of its printed size
and at ``MIN_FIGURE_DPI`` or more, tables styled (padded, readable in light and dark mode), and no stray
output (a bare number, a float written with more than six decimals, a matplotlib object's repr, a stderr
block). Two tests use the menus: on a 390 px phone, open the table of contents, follow it to another chapter,
and open "On this page"; on a desktop, collapse the sidebar and bring it back.

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
import time
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
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# A figure is drawn for the column it lands in: shrunk below this fraction of its printed size (the width
# that the output's metadata gives, its size at figure.dpi) its 9-10 pt labels fall under about 6 px.
MIN_FIGURE_SCALE = 0.7
# Image pixels per inch of the figure as displayed, with FIGURE_DPI CSS pixels per figure inch (gaplib.plot).
MIN_FIGURE_DPI = 150
FIGURE_DPI = 100
# WCAG AA contrast for text in tables, light and dark.
MIN_CONTRAST = 4.5


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

    def __init__(self, browser, server: str, viewport: dict | None = None):
        self.context = browser.new_context(color_scheme="light", service_workers="block",
                                           viewport=viewport or DESKTOP)
        self.errors: list[str] = []
        self.external: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status}: {r.url}"))
        # Every request the page has made and that has not finished or failed yet (see settle()).
        self.open_requests: set = set()
        self.page.on("request", lambda r: self.open_requests.add(r))
        self.page.on("requestfinished", lambda r: self.open_requests.discard(r))
        self.page.on("requestfailed", lambda r: self.open_requests.discard(r))
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

    def settle(self, quiet_s: float = 0.5) -> None:
        """Wait until none of the page's requests has been open for ``quiet_s``, so that late ones are counted.

        Playwright's ``wait_for_load_state("networkidle")`` waits for Chromium's own idle signal, which here once
        in about seven full runs never came although every request of the page had finished (20 s timeout, no
        request open). This waits on the page's requests themselves, with the same timeout, and fails naming
        any request that stays open."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        quiet_since = None
        while True:
            now = time.monotonic()
            if self.open_requests:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= quiet_s:
                return
            if now > deadline:
                raise AssertionError("the page's requests never settled; still open: "
                                     f"{sorted(request.url for request in self.open_requests)}")
            self.page.wait_for_timeout(100)  # lets Playwright deliver the request events meanwhile

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

LEGIBILITY = r"""() => {
  const article = document.querySelector('article') || document.body;
  const result = {equations: [], code: [], figures: [], bare: [], reprs: [], stderr: [], floats: []};
  // display equations wider than the column (shown cut off, or behind a scrollbar)
  article.querySelectorAll('mjx-container[display="true"]').forEach(c => {
    const width = c.querySelector('mjx-math')?.getBoundingClientRect().width || 0;
    const column = c.parentElement.getBoundingClientRect().width;
    if (width > column + 1 || c.scrollWidth > c.clientWidth + 1)
      result.equations.push({tex: (c.querySelector('mjx-assistive-mml')?.textContent || '?').slice(0, 70),
                             width: Math.round(width), column: Math.round(column)});
  });
  // code and output lines cut off (the block scrolls sideways)
  article.querySelectorAll('div.highlight pre').forEach(pre => {
    if (pre.scrollWidth > pre.clientWidth + 1) {
      const longest = pre.textContent.split('\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      result.code.push(longest.trim().slice(0, 90));
    }
  });
  // figures: displayed size against printed size (the width the notebook output asks for) and pixel density
  article.querySelectorAll('div.cell_output img, figure img').forEach(img => {
    if (img.closest('.sd-card') || !img.offsetParent) return;
    result.figures.push({src: img.getAttribute('src'), displayed: img.getBoundingClientRect().width,
                         printed: parseFloat(img.style.width) || Number(img.getAttribute('width')) || img.naturalWidth,
                         natural: img.naturalWidth});
  });
  // stray outputs
  const bare = /^\s*[-+]?(\d[\d_]*(\.\d*)?([eE][-+]?\d+)?|nan|inf|NaN)\s*$/;
  const repr = new RegExp([String.raw`<[^<>]* at 0x[0-9a-f]+>`, String.raw`<Figure size`,
    String.raw`^\s*\[?<matplotlib`, String.raw`^\s*Text\(`,
    String.raw`^\s*np\.float\d+\(`, String.raw`^\s*tensor\(-?[\d.]+\)`].join('|'));
  article.querySelectorAll('div.cell_output .output.text_plain').forEach(o => {
    const text = o.textContent;
    if (bare.test(text)) result.bare.push(text.trim().slice(0, 60));
    else if (repr.test(text)) result.reprs.push(text.trim().slice(0, 60));
  });
  article.querySelectorAll('div.cell_output .output.stderr')
    .forEach(o => result.stderr.push(o.textContent.trim().slice(0, 90)));
  const shown = article.cloneNode(true);
  shown.querySelectorAll('.cell_input, script, style, mjx-container, mjx-assistive-mml').forEach(e => e.remove());
  // textContent runs table cells together ("19.9" then "10.97" reads "19.910.97"): keep them apart
  shown.querySelectorAll('td, th').forEach(c => c.append(' '));
  result.floats = Array.from(new Set(shown.textContent.match(/\d\.\d{7,}/g) || [])).slice(0, 5);
  // authoring leftovers: solution markers in the code, MyST roles written out instead of rendered
  result.markers = Array.from(article.querySelectorAll('.cell_input'))
    .filter(e => /# (BEGIN|END) SOLUTION/.test(e.textContent)).length;
  shown.querySelectorAll('div.highlight').forEach(e => e.remove());
  const role = /\{(term|numref|eq|doc|ref|cite(:[pt])?|glue(:[a-z]+)?)\}`[^`]*`/g;
  result.roles = Array.from(new Set(shown.textContent.match(role) || []));
  return result;
}"""

TABLES = r"""() => {
  const rgba = c => {
    const v = (c.match(/[\d.]+/g) || []).map(Number);
    return v.length ? [v[0], v[1], v[2], v.length > 3 ? v[3] : 1] : [0, 0, 0, 0];
  };
  return Array.from(document.querySelectorAll('article table'))
    .filter(t => !t.closest('.highlight, mjx-container, .sd-card'))
    .map(t => {
      const cell = t.querySelector('tbody td') || t.querySelector('td, th');
      if (!cell || !cell.offsetParent) return null;
      const style = getComputedStyle(cell);
      let background = [255, 255, 255, 1];
      for (let e = cell; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c[3] > 0.5) { background = c; break; }
      }
      return {text: t.textContent.trim().slice(0, 50), color: rgba(style.color), background,
              padding: parseFloat(style.paddingLeft) + parseFloat(style.paddingRight)};
    }).filter(t => t);
}"""

FIGURE_BACKGROUNDS = """() => Array.from(document.querySelectorAll('article img')).map(img => {
  const [r, g, b, a = 1] = getComputedStyle(img).backgroundColor.match(/[\\d.]+/g).map(Number);
  return {src: img.getAttribute('src'), luminance: a === 0 ? 0 : (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255};
})"""


def _luminance(rgb: list[float]) -> float:
    """WCAG relative luminance of an sRGB colour given as 0-255 components."""
    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(foreground: list[float], background: list[float]) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _table_problems(page, scheme: str) -> list[str]:
    problems = []
    for table in page.evaluate(TABLES):
        if table["padding"] < 8:
            problems.append(f"table without cell padding ({table['padding']:.0f} px) in {scheme} mode: "
                            f"{table['text']!r}")
        contrast = _contrast(table["color"], table["background"])
        if contrast < MIN_CONTRAST:
            problems.append(f"table text unreadable in {scheme} mode (contrast {contrast:.1f}): {table['text']!r}")
    return problems


def _legibility_problems(page) -> list[str]:
    found = page.evaluate(LEGIBILITY)
    problems = [f"display equation wider than the column ({e['width']} px > {e['column']} px): {e['tex']!r}"
                for e in found["equations"]]
    problems += [f"code line cut off at {DESKTOP['width']} px (keep lines <= 80 characters): {line!r}"
                 for line in found["code"]]
    for figure in found["figures"]:
        scale = figure["displayed"] / figure["printed"]
        dpi = FIGURE_DPI * figure["natural"] / max(figure["displayed"], 1)
        if scale < MIN_FIGURE_SCALE:
            problems.append(f"figure shrunk to {scale:.0%} of its printed size (draw it narrower, figsize "
                            f"width <= 7 in, or as a grid): {figure['src']}")
        if dpi < MIN_FIGURE_DPI:
            problems.append(f"figure at {dpi:.0f} dpi as displayed (< {MIN_FIGURE_DPI}; gaplib.plot sets "
                            f"high-density output): {figure['src']}")
    problems += [f"stray bare number in an output (end the cell with ';' or show a table): {t!r}"
                 for t in found["bare"]]
    problems += [f"stray object repr in an output: {t!r}" for t in found["reprs"]]
    problems += [f"stderr output on the page (warnings belong in the log): {t!r}" for t in found["stderr"]]
    problems += [f"float with more than 6 decimals on the page (round it): {t!r}" for t in found["floats"]]
    if found["markers"]:
        problems.append(f"{found['markers']} code cells show '# BEGIN/END SOLUTION' (_ext/strip_solution_markers)")
    problems += [f"MyST role shown as raw text: {t!r}" for t in found["roles"]]
    return problems


def _screenshot(page, name: str) -> None:
    """With BOOK_SCREENSHOTS=folder, keep what the browser showed, to look at."""
    folder = os.environ.get("BOOK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name.replace('/', '_')}.png"))


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

        problems += _legibility_problems(page)
        problems += _table_problems(page, "light")
        _screenshot(page, f"{doc}-{DESKTOP['width']}-light")

        # The theme follows the reader's dark preference; figures (black text) must keep a light backdrop.
        page.emulate_media(color_scheme="dark")
        page.wait_for_function("document.documentElement.dataset.theme === 'dark'")
        problems += [f"figure on a dark backdrop in dark mode: {f['src']} (luminance {f['luminance']:.2f})"
                     for f in page.evaluate(FIGURE_BACKGROUNDS) if f["luminance"] < 0.6]
        problems += _table_problems(page, "dark")
        _screenshot(page, f"{doc}-{DESKTOP['width']}-dark")

        visit.settle()
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


def test_pages_name_an_icon_that_loads(browser, server: str) -> None:
    # without one, every page load asks for /favicon.ico and the server answers 404
    visit = Visit(browser, server)
    try:
        page = visit.open(f"{TOC_FILES[0]}.html")
        icons = page.eval_on_selector_all('link[rel~="icon"]', "els => els.map(e => e.href)")
        assert icons, "no <link rel=icon> on the page"
        for url in icons:
            response = page.request.get(url)
            assert response.ok and response.headers["content-type"].startswith("image/"), (url, response.status)
    finally:
        visit.close()


CHAPTERS = [doc for doc in TOC_FILES if doc.startswith("chapters/")]


def _in_view(page, locator) -> bool:
    """Visible, and on the screen rather than slid out of it."""
    if not locator.is_visible():
        return False
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["width"] > 0 and box["x"] >= -1 and box["x"] + box["width"] <= width + 1


def test_phone_reader_navigates_with_the_menus(browser, server: str) -> None:
    """On a 390 px phone: open the menu, go to the next chapter through it, open "On this page", jump."""
    first, second = CHAPTERS[0], CHAPTERS[1]
    visit = Visit(browser, server, PHONE)
    try:
        page = visit.open(f"{first}.html")
        menu = page.locator(".sidebar-toggle.primary-toggle:visible")
        assert menu.count() == 1, f"expected one visible menu button at {PHONE['width']} px, found {menu.count()}"
        link = page.locator(f'.bd-sidebar-primary a.reference.internal[href$="{Path(second).name}.html"]')
        assert not _in_view(page, link.first), "the table of contents shows before the menu is opened"
        menu.click()
        page.wait_for_timeout(400)  # the sidebar slides in
        assert _in_view(page, link.first), "the menu button did not open the table of contents"
        _screenshot(page, f"menu-{PHONE['width']}")
        link.first.click()
        page.wait_for_url(re.compile(rf"/{re.escape(second)}\.html"))

        on_this_page = page.locator(".sidebar-toggle.secondary-toggle:visible")
        assert on_this_page.count() == 1, "no visible 'On this page' button"
        section = page.locator(".bd-sidebar-secondary nav.page-toc a.nav-link")
        assert section.count() > 0, f"{second} has no 'On this page' entries"
        on_this_page.click()
        page.wait_for_timeout(400)
        assert _in_view(page, section.first), "the 'On this page' button did not open the page's contents"
        _screenshot(page, f"on-this-page-{PHONE['width']}")
        target = section.first.get_attribute("href")
        section.first.click()
        page.wait_for_url(re.compile(re.escape(target) + "$"))
        assert not visit.errors and not visit.external, visit.errors + visit.external
    finally:
        visit.close()


def test_desktop_sidebar_collapses_and_comes_back(browser, server: str) -> None:
    visit = Visit(browser, server, DESKTOP)
    try:
        page = visit.open(f"{CHAPTERS[0]}.html")
        sidebar = page.locator(".bd-sidebar-primary")
        article = page.locator(".bd-article-container")
        assert _in_view(page, sidebar), f"the table of contents is not shown at {DESKTOP['width']} px"
        wide = article.bounding_box()["width"]
        page.locator(".sidebar-toggle.primary-toggle:visible").click()
        page.wait_for_timeout(400)
        assert not _in_view(page, sidebar), "the menu button did not collapse the sidebar"
        assert not page.locator("dialog[open]").count(), "the menu button opened a modal instead of collapsing"
        _screenshot(page, f"collapsed-{DESKTOP['width']}")
        assert article.bounding_box()["x"] < 100, "the text did not move into the space the sidebar left"
        page.locator(".sidebar-toggle.primary-toggle:visible").click()
        page.wait_for_timeout(400)
        assert _in_view(page, sidebar), "the menu button did not bring the sidebar back"
        assert abs(article.bounding_box()["width"] - wide) < 2
        assert not visit.errors and not visit.external, visit.errors + visit.external
    finally:
        visit.close()
