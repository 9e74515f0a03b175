# Sourced by scripts/test and scripts/demo: installs what trio-cpp needs on Debian/Ubuntu.
trio_install_deps() {
  local want=("$@")
  local missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "trio-cpp needs these packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}   (or run this script as root)" >&2
    exit 1
  fi
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The CMake launcher flag for ccache, when it is there.
trio_ccache_flag() {
  if command -v ccache >/dev/null 2>&1; then echo "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"; fi
}
