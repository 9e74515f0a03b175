#!/usr/bin/env python3
"""tests/README.md maps each header to its test file; this keeps the map whole and true.

Checks:
  1. every public header under include/trio (not detail/) is named in tests/README.md, as its path
     under include/trio/ in backticks (`cancel_scope.hpp`, `ssl/context.hpp`);
  2. every file the map names exists: a `.cpp` or `.py` under tests/, a `.hpp` under include/trio/ or
     tests/, or a path from the repository's root (`include/trio/...`);
  3. every test file (tests/**/test_*.cpp) is named in the map.
Run from anywhere; exits 1 with one line per problem.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parents[2]
include = root / "include" / "trio"
tests = root / "tests"
readme = tests / "README.md"

named = set(re.findall(r"`([A-Za-z0-9_./-]+\.(?:hpp|cpp|py))`", readme.read_text()))
problems = []

headers = sorted(p.relative_to(include).as_posix() for p in include.rglob("*.hpp") if "detail" not in p.parts)
for h in headers:
    if h not in named:
        problems.append(f"tests/README.md does not name the header `{h}` (say which test file checks it)")

for name in sorted(named):
    if name.startswith(("include/", "tests/")):
        ok = (root / name).is_file()
    elif name.endswith(".hpp"):
        ok = (include / name).is_file() or (tests / name).is_file()
    else:
        ok = (tests / name).is_file()
    if not ok:
        problems.append(f"tests/README.md names `{name}`, which does not exist")

test_files = sorted(p.relative_to(tests).as_posix() for p in tests.rglob("test_*.cpp") if "packaging" not in p.parts)
for t in test_files:
    if t not in named:
        problems.append(f"tests/README.md does not name the test file `{t}`")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"tests/README.md: {len(headers)} public headers and {len(test_files)} test files, each named; every named file exists")
