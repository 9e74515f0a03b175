#!/usr/bin/env bash
# Checks the documentation without building anything; exits non-zero with a message per problem:
#   1. every semantics case id a test cites (tests/) has an entry in docs/semantics.md
#      (a heading or a bold label such as **CS-05 ...**);
#   2. README.md stays a front page: at most 13000 bytes;
#   3. no tracked file refers to paths outside the repository (../shared) or to work-tracking numbers
#      (the word issue, session or stop followed by a number);
#   4. every relative link in README.md, benchmarks/README.md and docs/*.md points at a file that exists;
#   5. README.md links every document in docs/.
# Usage: scripts/lib/check_docs.sh   (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

failures=0
fail() {
  echo "check_docs: $*" >&2
  failures=$((failures + 1))
}

# 1. Case ids: the section prefixes of the semantics, followed by a two-digit number.
ids=()
ids_pattern='\b(RUN|NUR|START|CS|TO|CP|SCHED|SYNC|CH|STR|NET|FILE|THR|SIG|PROC|TEST|EXC)-[0-9]{2}[a-z]?\b'
if [[ ! -f docs/semantics.md ]]; then
  fail "docs/semantics.md is missing"
else
  mapfile -t ids < <(grep -rhoE "$ids_pattern" tests --include='*.cpp' --include='*.hpp' | sort -u)
  for id in "${ids[@]}"; do
    if ! grep -qE "(\*\*${id}\b|^#+ .*\b${id}\b)" docs/semantics.md; then
      fail "$id is cited by a test ($(grep -rlE "\b${id}\b" tests --include='*.cpp' | head -1)) but has no entry" \
        "(heading or **bold label**) in docs/semantics.md"
    fi
  done
fi

# 2. The README's size.
size=$(wc -c < README.md)
if ((size > 13000)); then
  fail "README.md is $size bytes, over 13000: move detail into docs/"
fi

# 3. Tracked files: no path outside the repository, no work-tracking numbers. (Web addresses such as
# .../issues/123 do not match: the number must follow the word and a space.)
self=scripts/lib/check_docs.sh
mapfile -t files < <(git ls-files | grep -vxF "$self")
if ((${#files[@]} > 0)); then
  if hits=$(printf '%s\0' "${files[@]}" | xargs -0 grep -InF -- '../shared' 2>/dev/null); then
    fail "paths outside the repository (../shared):"$'\n'"$hits"
  fi
  if hits=$(printf '%s\0' "${files[@]}" | xargs -0 grep -InEi -- '\b(issue|session|stop) #?[0-9]+\b' 2>/dev/null); then
    fail "work-tracking numbers (issue N, session N, stop N); describe the thing itself:"$'\n'"$hits"
  fi
fi

# 4. Relative links in the Markdown documents.
# The targets of ](...) links outside code blocks and code spans.
# shellcheck disable=SC2016  # the backquotes are Markdown code spans, not shell expansions
links_of() {
  awk '/^ *```/ { fenced = !fenced; next } !fenced' "$1" | sed -E 's/`[^`]*`//g' |
    grep -oE '\]\([^)]+\)' | sed -E 's/^\]\((.*)\)$/\1/'
}
docs=(README.md)
[[ -f benchmarks/README.md ]] && docs+=(benchmarks/README.md)
for f in docs/*.md; do [[ -e "$f" ]] && docs+=("$f"); done
for doc in "${docs[@]}"; do
  dir=$(dirname "$doc")
  # ](target) and ](target "title") outside code blocks and code spans; skip web addresses, mail and
  # in-page anchors.
  while IFS= read -r target; do
    target=${target%% *}
    case "$target" in
      http://* | https://* | mailto:* | '#'* | '') continue ;;
    esac
    path=${target%%#*}
    [[ -z "$path" ]] && continue
    if [[ ! -e "$dir/$path" ]]; then
      fail "$doc links to $target, which does not exist"
    fi
  done < <(links_of "$doc")
done

# 5. The README's Documentation list names every document in docs/.
for f in docs/*.md; do
  [[ -e "$f" ]] || continue
  grep -qF "]($f)" README.md || fail "README.md does not link $f (add it to the Documentation list)"
done

if ((failures > 0)); then
  echo "check_docs: $failures problem(s)" >&2
  exit 1
fi
echo "check_docs: ok (${#ids[@]} case ids documented, README.md $size bytes, ${#docs[@]} documents' links resolve)"
