#!/usr/bin/env python3
"""Checks the built documentation site (scripts/docs runs it after Sphinx).

1. Every C++ code block of the Markdown pages (docs/, README.md) compiles: a ```cpp block must be a
   whole translation unit (it is compiled as written, -fsyntax-only, warnings as errors). A block marked
   with the comment <!-- docs: does not compile --> on the line before must fail to compile (the pages
   show a few mistakes on purpose). A quoted file ({literalinclude}) must be one the build compiles and
   ctest runs or checks: a file under examples/ or docs/snippets/.
2. Every link and image inside the built site resolves, and so does its #anchor.
3. With --browser: a headless Chromium renders the index and a reference page; the check reads what it
   rendered (the title, the navigation, a code block, a reference entry) and saves screenshots in
   build/docs/screenshots/.
Exits 1 with one message per problem.
"""
import argparse
import concurrent.futures
import html.parser
import os
import re
import subprocess
import sys
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMPILED_DIRS = ("examples/", "docs/snippets/")
problems = []


def problem(msg):
    problems.append(msg)


def markdown_pages():
    pages = [os.path.join(ROOT, "README.md")]
    for d, dirs, files in os.walk(os.path.join(ROOT, "docs")):
        rel = os.path.relpath(d, ROOT)
        dirs[:] = [x for x in dirs if not (rel == "docs" and x in ("snippets", "_ext", "reference"))]
        pages += [os.path.join(d, f) for f in files if f.endswith(".md")]
    return sorted(pages)


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(\{[\w-]+\})?\s*(.*)$")


def code_blocks(path):
    """Yields (line, kind, info, text, expect_failure): kind is 'fence' or a directive name."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, directive, info = m.groups()
        start = i
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*" + re.escape(fence[0]) + "{%d,}\\s*$" % len(fence), lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        expect_failure = start > 0 and "docs: does not compile" in lines[start - 1]
        kind = directive[1:-1] if directive else "fence"
        yield start + 1, kind, info.strip(), "\n".join(body), expect_failure


def check_code(cxx, jobs):
    work = []
    out_dir = os.path.join(ROOT, "build", "docs", "code")
    os.makedirs(out_dir, exist_ok=True)
    for page in markdown_pages():
        rel = os.path.relpath(page, ROOT)
        for line, kind, info, text, expect_failure in code_blocks(page):
            lang = info.split()[0].lower() if info else ""
            if kind == "literalinclude":
                target = os.path.normpath(os.path.join(os.path.dirname(page), info))
                trel = os.path.relpath(target, ROOT)
                if not os.path.isfile(target):
                    problem("%s:%d quotes %s, which does not exist" % (rel, line, info))
                elif target.endswith((".cpp", ".hpp")) and not trel.startswith(COMPILED_DIRS):
                    problem("%s:%d quotes %s: quote C++ only from files the build compiles (%s)"
                            % (rel, line, trel, ", ".join(COMPILED_DIRS)))
                continue
            if kind == "code-block" or kind == "code":
                lang = info.lower()
            if kind not in ("fence", "code-block", "code") or lang not in ("cpp", "c++", "cxx"):
                continue
            name = re.sub(r"[^A-Za-z0-9]+", "_", rel) + "_%d.cpp" % line
            src = os.path.join(out_dir, name)
            with open(src, "w") as f:
                f.write("#line %d\n%s\n" % (line + 1, text))  # (a file name here would make it a header to g++)
            work.append((rel, line, src, expect_failure))

    def compile_one(item):
        rel, line, src, expect_failure = item
        cmd = [cxx, "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
               "-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-but-set-variable",
               "-I" + os.path.join(ROOT, "include"), "-DTRIO_HAS_SSL=1", src]
        r = subprocess.run(cmd, capture_output=True, text=True)
        return item, r.returncode, r.stderr

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for (rel, line, src, expect_failure), rc, err in pool.map(compile_one, work):
            if expect_failure and rc == 0:
                problem("%s:%d: the block marked 'does not compile' compiles" % (rel, line))
            elif not expect_failure and rc != 0:
                head = "\n".join(err.replace(src, rel).strip().split("\n")[:12])
                problem("%s:%d: the C++ block does not compile (%s):\n%s" % (rel, line, os.path.basename(cxx), head))
    return len(work)


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "img", "link", "script"):
                self.links.append(a[key])


def check_links(site):
    parsed = {}

    def parse(path):
        if path not in parsed:
            p = _Links()
            p.feed(open(path, encoding="utf-8", errors="replace").read())
            parsed[path] = p
        return parsed[path]

    pages = [os.path.join(d, f) for d, _, fs in os.walk(site) for f in fs if f.endswith(".html")]
    count = 0
    for page in pages:
        for link in parse(page).links:
            u = urllib.parse.urlsplit(link)
            if u.scheme or u.netloc or link.startswith("mailto:"):
                continue
            count += 1
            target = page if not u.path else os.path.normpath(os.path.join(os.path.dirname(page),
                                                                            urllib.parse.unquote(u.path)))
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
            rel = os.path.relpath(page, site)
            if not os.path.exists(target):
                problem("%s links to %s, which is not in the site" % (rel, link))
            elif u.fragment and target.endswith(".html") and u.fragment not in parse(target).ids:
                problem("%s links to %s: no such anchor in %s" % (rel, link, os.path.relpath(target, site)))
    return len(pages), count


def check_browser(browser, site):
    shots = os.path.join(ROOT, "build", "docs", "screenshots")
    os.makedirs(shots, exist_ok=True)
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--hide-scrollbars", "--window-size=1280,1000", "--virtual-time-budget=1000"]
    pages = {
        "index": ("index.html", ["<title>trio-cpp", "sidebar-tree", ">Tutorial<", ">Reference<",
                                 'class="highlight']),
        "reference": ("reference/api/core.html", ["<title>Core", "sidebar-tree", "trio::run",
                                                  'id="_CPPv4N4trio7nurseryE"', 'class="sig sig-object cpp"']),
    }
    for name, (page, wanted) in pages.items():
        url = "file://" + os.path.abspath(os.path.join(site, page))
        try:
            r = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
            dom = r.stdout
            subprocess.run(base + ["--screenshot=" + os.path.join(shots, name + ".png"), url],
                           capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            problem("%s did not render %s within 120 s" % (browser, page))
            continue
        if not dom:
            problem("%s rendered nothing for %s: %s" % (browser, page, r.stderr.strip()[-500:]))
            continue
        for w in wanted:
            if w not in dom:
                problem("%s's rendering of %s lacks %r" % (browser, page, w))
    return shots


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--html", required=True)
    ap.add_argument("--cxx", default="g++")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--browser")
    a = ap.parse_args()
    n_code = check_code(a.cxx, a.jobs)
    n_pages, n_links = check_links(a.html)
    shots = check_browser(a.browser, a.html) if a.browser else None
    if problems:
        for p in problems:
            print("check_site: " + p, file=sys.stderr)
        return 1
    print("check_site: ok (%d C++ blocks compile, %d links in %d pages resolve%s)"
          % (n_code, n_links, n_pages, ", Chromium rendered the index and a reference page: " + os.path.relpath(shots, ROOT) if shots else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
