"""Writes the reference pages (docs/reference/api/<area>.md) from Doxygen's XML of the public headers.

Each public header belongs to one area (AREAS below); a page lists its headers, and for each header its
file comment, its classes and its free names (functions, type aliases, variables, enums, macros) as
Breathe directives. A public header that no area names, or a name listed nowhere, stops the build: the
reference covers every public header.
"""
import os
import xml.etree.ElementTree as ET

# (page, title, introduction, headers): the areas of the reference, in the order of Trio's reference.
AREAS = [
    ("core", "Core: runs, tasks, nurseries, cancellation, time",
     "The entry point, tasks and nurseries, cancel scopes and timeouts, time and checkpoints, and the errors "
     "they raise. Trio's reference calls this \"Core functionality\".",
     ["trio.hpp", "run.hpp", "task.hpp", "nursery.hpp", "cancel_scope.hpp", "timeouts.hpp", "sleep.hpp",
      "checkpoint.hpp", "clock.hpp", "errors.hpp"]),
    ("sync", "Synchronizing and communicating between tasks",
     "Events, locks, semaphores, capacity limiters, conditions, the parking lot they are built on, and "
     "memory channels.",
     ["sync.hpp", "event.hpp", "lock.hpp", "semaphore.hpp", "capacity_limiter.hpp", "condition.hpp",
      "parking_lot.hpp", "channel.hpp"]),
    ("io", "I/O: networking, streams, files, processes, threads and signals",
     "Streams and the TCP, Unix and UDP helpers built on sockets; files; subprocesses; calling into and out "
     "of threads; signals.",
     ["net.hpp", "stream.hpp", "socket.hpp", "socket_address.hpp", "socket_stream.hpp", "open_tcp_stream.hpp",
      "open_tcp_listeners.hpp", "tcp_listen_options.hpp", "serve_listeners.hpp", "open_unix_stream.hpp",
      "open_udp_socket.hpp", "net_hooks.hpp", "line_reader.hpp", "pipe_stream.hpp", "file.hpp",
      "process.hpp", "to_thread.hpp", "from_thread.hpp", "signal.hpp"]),
    ("testing", "Testing",
     "`<trio/testing.hpp>`: the mock clock, memory streams, the sequencer, stream conformance checks, and "
     "`TRIO_TEST_CASE` for Catch2.",
     ["testing.hpp", "testing/catch2.hpp", "testing/mock_clock.hpp", "testing/wait_all_tasks_blocked.hpp",
      "testing/memory_streams.hpp", "testing/check_streams.hpp", "testing/sequencer.hpp",
      "testing/ssl_certs.hpp"]),
    ("runner_groups", "Runner groups: every core, still structured",
     "One trio::run per core in a structured group: run_per_core, calls into another runner (on_runner) and "
     "channels whose ends may be used from any runner of the group.",
     ["runner_group.hpp", "shared_channel.hpp"]),
    ("lowlevel", "Low level and introspection",
     "What libraries built on trio-cpp need: the current task, the token for other threads, waiting on a "
     "file descriptor, instruments, and the diagnostics (statistics, Prometheus text, the trace).",
     ["lowlevel.hpp", "instrument.hpp", "wait_fd.hpp", "format_prometheus.hpp", "trace.hpp"]),
    ("ssl", "TLS (trio::ssl)",
     "`<trio/ssl.hpp>`, target `trio::ssl` (OpenSSL 3): TLS streams over any stream.",
     ["ssl.hpp", "ssl/context.hpp", "ssl/ssl_stream.hpp", "ssl/ssl_stream_options.hpp", "ssl/over_tcp.hpp",
      "ssl/errors.hpp", "ssl/testing/test_certificates.hpp"]),
    ("http", "HTTP client (trio::http)",
     "`<trio/http.hpp>`, target `trio::http` (libcurl): a client with connection reuse, HTTP/2, streaming "
     "bodies and limits.",
     ["http.hpp", "http/client.hpp", "http/options.hpp", "http/response.hpp", "http/streamed_response.hpp",
      "http/header_map.hpp", "http/errors.hpp", "http/transport.hpp"]),
]

DIRECTIVE = {"function": "doxygenfunction", "typedef": "doxygentypedef", "variable": "doxygenvariable",
             "enum": "doxygenenum", "define": "doxygendefine"}


def _text(e):
    return "".join(e.itertext()) if e is not None else ""


def _public_headers(include_dir):
    out = []
    for root, dirs, files in os.walk(os.path.join(include_dir, "trio")):
        dirs[:] = [d for d in dirs if d != "detail"]
        for f in files:
            if f.endswith(".hpp"):
                out.append(os.path.relpath(os.path.join(root, f), os.path.join(include_dir, "trio")))
    return sorted(out)


def _signature(m):
    """The name with parameter types, as Breathe matches an overload: trio::sleep(duration)."""
    types = []
    for p in m.findall("param"):
        t = " ".join(_text(p.find("type")).split())
        if t and t != "void":
            types.append(t)
    return "(" + ", ".join(types) + ")"


def _public_member_header(m, compound_kind):
    """The public header ("trio/x.hpp") that declares member m of a compound of that kind, or None when m
    is not part of the public API: not public, a file's member other than a TRIO_ macro, an internal
    TRIO_DETAIL macro, or declared outside the public headers."""
    mk = m.get("kind")
    name = _text(m.find("name"))
    if m.get("prot", "public") != "public" or (compound_kind == "file" and mk != "define"):
        return None
    if mk == "define" and (not name.startswith("TRIO_") or name.startswith("TRIO_DETAIL")):
        return None
    loc = m.find("location")
    f = loc.get("file", "") if loc is not None else ""
    return f if f.startswith("trio/") else None


def collect(xml_dir):
    """header (relative to include/trio) -> {"brief": str, "classes": [...], "members": [(kind, name)]}."""
    index = ET.parse(os.path.join(xml_dir, "index.xml")).getroot()
    classes = {}
    kinds = {}
    by_header = {}
    for c in index.findall("compound"):
        kind = c.get("kind")
        path = os.path.join(xml_dir, c.get("refid") + ".xml")
        if kind in ("class", "struct", "union"):
            d = ET.parse(path).getroot().find("compounddef")
            loc = d.find("location")
            classes[_text(d.find("compoundname"))] = loc.get("file") if loc is not None else None
            kinds[_text(d.find("compoundname"))] = kind
    class_names = set(classes)
    for name, f in classes.items():
        if f is None or not f.startswith("trio/"):
            continue
        outer = name.rsplit("::", 1)[0] if "::" in name else ""
        if outer in class_names:  # a nested class: shown with its enclosing class
            continue
        by_header.setdefault(f[len("trio/"):], {"classes": [], "members": [], "brief": ""})["classes"].append((kinds[name], name))
    for c in index.findall("compound"):
        kind = c.get("kind")
        if kind not in ("namespace", "file"):
            continue
        d = ET.parse(os.path.join(xml_dir, c.get("refid") + ".xml")).getroot().find("compounddef")
        scope = _text(d.find("compoundname")) if kind == "namespace" else ""
        if kind == "file":
            loc = d.find("location")
            f = loc.get("file") if loc is not None else ""
            if f.startswith("trio/"):
                entry = by_header.setdefault(f[len("trio/"):], {"classes": [], "members": [], "brief": ""})
                entry["brief"] = " ".join(_text(d.find("briefdescription")).split())
                entry["detail"] = " ".join(_text(d.find("detaileddescription")).split())
        for m in d.iter("memberdef"):
            mk = m.get("kind")
            f = _public_member_header(m, kind)
            if mk not in DIRECTIVE or not f:
                continue
            name = _text(m.find("name"))
            qual = scope + "::" + name if scope else name
            if mk == "function":
                qual += _signature(m)
            entry = by_header.setdefault(f[len("trio/"):], {"classes": [], "members": [], "brief": ""})
            if (mk, qual) not in entry["members"]:
                entry["members"].append((mk, qual))
    return by_header


AWAITER_PROTOCOL = {"await_ready", "await_suspend", "await_resume", "operator co_await"}


def _documented(e):
    return bool(" ".join(_text(e.find("briefdescription")).split() + _text(e.find("detaileddescription")).split()))


def _exempt(m, owner):
    """Members that need no comment: deleted and defaulted functions, destructors, moves, the awaiter protocol."""
    name = _text(m.find("name"))
    args = "".join(_text(m.find("argsstring")).split())
    if name in AWAITER_PROTOCOL or name.startswith("~") or args.endswith(("=delete", "=default")):
        return True
    short = owner.rsplit("::", 1)[-1].split("<")[0]
    types = ["".join(_text(p.find("type")).split()) for p in m.findall("param")]
    return name in (short, "operator=") and len(types) == 1 and types[0].endswith("&&") and short in types[0]


def undocumented(xml_dir):
    """Public names of the public headers without a comment, as "trio/x.hpp:line: name"."""
    out = []
    index = ET.parse(os.path.join(xml_dir, "index.xml")).getroot()
    for c in index.findall("compound"):
        kind = c.get("kind")
        if kind not in ("class", "struct", "union", "namespace", "file"):
            continue
        d = ET.parse(os.path.join(xml_dir, c.get("refid") + ".xml")).getroot().find("compounddef")
        owner = _text(d.find("compoundname"))
        loc = d.find("location")
        if kind in ("class", "struct", "union"):
            if d.get("prot", "public") != "public" or loc is None or not loc.get("file", "").startswith("trio/"):
                continue
            if not _documented(d):
                out.append("%s:%s: %s %s" % (loc.get("file"), loc.get("line"), kind, owner))
        for m in d.iter("memberdef"):
            f = _public_member_header(m, kind)
            if not f or m.get("kind") == "friend" or _exempt(m, owner):
                continue
            name = _text(m.find("name"))
            mloc = m.find("location")
            if not _documented(m):
                out.append("%s:%s: %s%s" % (f, mloc.get("line"), owner + "::" if kind != "file" else "", name))
            for v in m.findall("enumvalue"):
                if not _documented(v):
                    out.append("%s:%s: %s::%s::%s" % (f, mloc.get("line"), owner, name, _text(v.find("name"))))
    return sorted(set(out))


def write_pages(docs_dir, xml_dir, include_dir):
    headers = _public_headers(include_dir)
    placed = [h for _, _, _, hs in AREAS for h in hs]
    missing = [h for h in headers if h not in placed]
    unknown = [h for h in placed if h not in headers]
    if missing or unknown:
        raise RuntimeError("docs/_ext/trio_reference.py: public headers without a reference area: %s; areas "
                           "naming headers that do not exist: %s" % (missing, unknown))
    data = collect(xml_dir)
    out_dir = os.path.join(docs_dir, "reference", "api")
    os.makedirs(out_dir, exist_ok=True)
    for page, title, intro, hs in AREAS:
        lines = ["# " + title, "", intro, ""]
        for h in hs:
            e = data.get(h, {"classes": [], "members": [], "brief": ""})
            lines += ["## `<trio/%s>`" % h, ""]
            if e.get("brief") or e.get("detail"):  # the file comment, rendered by Breathe
                lines += ["```{doxygenfile} trio/" + h, ":sections: briefdescription detaileddescription", "```", ""]
            for kind, cls in e["classes"]:
                directive = "doxygenstruct" if kind == "struct" else "doxygenclass"
                lines += ["```{%s} %s" % (directive, cls), ":members:", ":undoc-members:", "```", ""]
            for mk, qual in e["members"]:
                lines += ["```{%s} %s" % (DIRECTIVE[mk], qual), "```", ""]
        text = "\n".join(lines)
        path = os.path.join(out_dir, page + ".md")
        old = open(path).read() if os.path.exists(path) else None
        if old != text:  # unchanged pages keep their time stamp: Sphinx rebuilds only what changed
            with open(path, "w") as f:
                f.write(text)


def _on_builder_inited(app):
    docs_dir = app.srcdir
    xml_dir = app.config.breathe_projects["trio"]
    write_pages(docs_dir, xml_dir, os.path.join(docs_dir, "..", "include"))
    missing = undocumented(xml_dir)
    if missing and os.environ.get("TRIO_DOCS_ALLOW_UNDOCUMENTED") == "1":  # a preview while writing
        print("trio_reference: %d public names have no /// comment" % len(missing))
    elif missing:
        raise RuntimeError("%d public names have no /// comment (the reference is made of them):\n%s"
                           % (len(missing), "\n".join(missing)))


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
