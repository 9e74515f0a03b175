#!/usr/bin/env python3
"""Checks that trio-cpp's headers include only downward.

The layers, bottom up:
  core detail/    the loop's machinery (trio/detail/*.hpp). It may include other core detail headers and
                  the few public headers that are its vocabulary (FOUNDATIONS below), nothing else.
  core public     trio/*.hpp, trio/testing/*.hpp: may include anything of the core.
  components      trio/ssl.hpp + trio/ssl/**, trio/http.hpp + trio/http/**: may include the core; the core
                  never includes them (except under the component's own guard, `#if defined(TRIO_HAS_SSL)`,
                  which only the component's users define), and one component does not include another. A component's own
                  detail/ headers do not include the component's umbrella header.
And no header includes itself through others (no include cycles: #pragma once hides them, and the
order of definitions then depends on which header a program includes first).
Exits 1 with one line per violation."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include")
FOUNDATIONS = {  # public headers the core's detail/ may use: they depend on nothing of the loop
    "trio/clock.hpp", "trio/errors.hpp", "trio/instrument.hpp",
    "trio/task.hpp",  # the coroutine type: its promise is what the task dump walks
    "trio/parking_lot.hpp",  # the queue every primitive parks on (Trio's lowlevel.ParkingLot)
}
COMPONENTS = ("ssl", "http")
# A public path kept for programs written before a header moved into a component's folder.
FORWARDS = {"trio/testing/ssl_certs.hpp": "ssl"}

# Every spelling of an include of a trio header: "trio/x.hpp", <trio/x.hpp>, and a path relative to the
# including header ("x.hpp", "../x.hpp"), so no two-way include hides behind a spelling the check skips.
INCLUDE = re.compile(r'^\s*#\s*include\s*(?:"([^"]+)"|<(trio/[^>]+)>)')
GUARD = re.compile(r'^\s*#\s*(?:if\s+defined\s*\(?\s*|ifdef\s+)TRIO_HAS_([A-Z]+)\b')
OPEN = re.compile(r'^\s*#\s*if')
CLOSE = re.compile(r'^\s*#\s*endif')


def component(path):
    if path in FORWARDS:
        return FORWARDS[path]
    for c in COMPONENTS:
        if path == f"trio/{c}.hpp" or path.startswith(f"trio/{c}/"):
            return c
    return "core"


def main():
    headers = {}
    for dirpath, _, files in os.walk(os.path.join(ROOT, "trio")):
        for f in files:
            if f.endswith(".hpp"):
                full = os.path.join(dirpath, f)
                headers[os.path.relpath(full, ROOT).replace(os.sep, "/")] = full
    graph, problems = {}, []
    for path, full in sorted(headers.items()):
        graph[path] = []
        guards = []  # the component guard of each open #if, or None
        with open(full, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                g = GUARD.match(line)
                if g:
                    guards.append(g.group(1).lower())
                elif OPEN.match(line):
                    guards.append(None)
                elif CLOSE.match(line) and guards:
                    guards.pop()
                m = INCLUDE.match(line)
                if not m:
                    continue
                dep = m.group(2) or m.group(1)
                if not dep.startswith("trio/"):  # relative to the including header
                    dep = os.path.normpath(os.path.join(os.path.dirname(path), dep)).replace(os.sep, "/")
                where = f"include/{path}:{lineno}"
                if dep not in headers:
                    problems.append(f"{where}: includes {dep}, which does not exist")
                    continue
                graph[path].append(dep)
                src_c, dep_c = component(path), component(dep)
                if src_c == "core" and dep_c != "core" and dep_c not in guards:
                    problems.append(f"{where}: the core includes {dep} of the trio::{dep_c} component")
                elif src_c != "core" and dep_c != "core" and src_c != dep_c:
                    problems.append(f"{where}: trio::{src_c} includes {dep} of the trio::{dep_c} component")
                elif src_c == "core" and "/detail/" in path and "/detail/" not in dep and dep not in FOUNDATIONS:
                    problems.append(f"{where}: a detail/ header includes the public header {dep} (a higher layer)")
                elif src_c != "core" and "/detail/" in path and dep == f"trio/{src_c}.hpp":
                    problems.append(f"{where}: a detail/ header includes its component's umbrella {dep}")
    # Cycles: depth-first search, reporting each cycle once.
    state, stack, seen_cycles = {}, [], set()

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    problems.append("include cycle: " + " -> ".join(cycle))
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    for p in problems:
        print(p)
    if problems:
        print(f"check_includes: {len(problems)} include(s) run against the layers (see scripts/lib/check_includes.py)")
        return 1
    print(f"check_includes: ok ({len(headers)} headers, every include runs downward, no cycles)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
