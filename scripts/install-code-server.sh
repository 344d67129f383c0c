#!/usr/bin/env bash
# Installs code-server (a real VS Code: browser workbench + Node 20 extension host) for the end-to-end
# tests, offline: only the npm registry and Debian's apt repositories are reachable. Follows the recipe in
# shared/ENVIRONMENT.md ("A real VS Code in CI, offline"): code-server's own postinstall downloads
# ripgrep and cannot run here, so every step it would take is done by hand.
#
#   scripts/install-code-server.sh            # installs if needed, prints the code-server entry point
#
# Environment:
#   ONNX_LEAN_CODE_SERVER_DIR   install folder (default $HOME/.cache/onnx-lean/code-server-4.100.3)
#   ONNX_LEAN_SKIP_APT=1        never call apt-get (fail with a clear message when a package is missing)
#
# Idempotent: a complete install leaves a marker file (version + Node ABI); a later run that finds it
# prints the entry point and returns at once. A half-finished install (interrupted, failed) lives in a
# staging folder and never becomes the install folder, so it is simply redone.
# stdout carries only the path of code-server's entry point (node script); progress goes to stderr.
set -euo pipefail

VERSION=4.100.3
NODE_MAJOR_REQUIRED=20
INSTALL_DIR="${ONNX_LEAN_CODE_SERVER_DIR:-${HOME:?HOME is not set}/.cache/onnx-lean/code-server-${VERSION}}"
MARKER="$INSTALL_DIR/.onnx-lean-installed"
ENTRY="$INSTALL_DIR/node_modules/code-server/out/node/entry.js"
APT_PACKAGES=(ripgrep libkrb5-dev chromium)

log() { printf '[install-code-server] %s\n' "$*" >&2; }
die() { printf '[install-code-server] ERROR: %s\n' "$*" >&2; exit 1; }

expected_marker() {
  printf 'code-server %s\nnode-abi %s\n' "$VERSION" "$(node -p process.versions.modules)"
}

installed() {
  [ -f "$MARKER" ] && [ -f "$ENTRY" ] && [ "$(cat "$MARKER")" = "$(expected_marker)" ]
}

check_node() {
  command -v node >/dev/null || die "node is not on PATH (code-server $VERSION needs Node $NODE_MAJOR_REQUIRED)"
  command -v npm >/dev/null || die "npm is not on PATH"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" = "$NODE_MAJOR_REQUIRED" ] ||
    die "code-server $VERSION needs Node $NODE_MAJOR_REQUIRED (newer code-server releases need Node 22+); this is Node $(node --version)"
}

# Debian packages: ripgrep (VS Code's search), libkrb5-dev (the kerberos module), chromium (the browser
# the tests drive), and a C++ toolchain for the native modules. CI runs as root and installs them.
ensure_apt_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  command -v g++ >/dev/null && command -v make >/dev/null || missing+=(g++ make)
  command -v python3 >/dev/null || missing+=(python3)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "${ONNX_LEAN_SKIP_APT:-}" = 1 ] || [ "$(id -u)" != 0 ]; then
    die "missing Debian packages: ${missing[*]}. Install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
}

# node-gyp would download Node's headers; build against the ones installed beside node instead.
ensure_node_headers() {
  if [ -n "${npm_config_nodedir:-}" ] || [ -n "$(npm config get nodedir 2>/dev/null | grep -v '^undefined$' || true)" ]; then
    return 0
  fi
  local prefix
  prefix="$(dirname "$(dirname "$(command -v node)")")"
  [ -f "$prefix/include/node/node.h" ] ||
    die "Node's C headers are not at $prefix/include/node and no npm nodedir is set; node-gyp cannot build offline"
  export npm_config_nodedir="$prefix"
}

# Runs a step with its output in the install log; on failure shows the log's tail and stops.
step() {
  local name="$1"; shift
  local started=$SECONDS
  log "$name"
  if ! "$@" >>"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    die "step failed: $name (full log: $LOG)"
  fi
  log "  done in $((SECONDS - started)) s"
}

npm_quiet() { npm --no-audit --no-fund --loglevel=error "$@"; }

install_into() {
  local dir="$1"
  local vscode="$dir/node_modules/code-server/lib/vscode"
  printf '{ "name": "onnx-lean-code-server", "private": true }\n' >"$dir/package.json"
  cd "$dir"
  step "npm install code-server@$VERSION (scripts off)" npm_quiet install --ignore-scripts "code-server@$VERSION"
  step "rebuild argon2" env npm_config_yes=true npm rebuild argon2 --build-from-source
  cd "$vscode"
  step "npm install VS Code's dependencies" npm_quiet install --ignore-scripts --omit=dev
  step "rebuild VS Code's native modules" env npm_config_yes=true npm rebuild kerberos node-pty @parcel/watcher @vscode/spdlog
  mkdir -p node_modules/@vscode/ripgrep/bin
  cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  ln -sfn node_modules node_modules.asar
  (cd bin/remote-cli && ln -sfn code-linux.sh code-server)
  (cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
  cd "$vscode/extensions"
  step "npm install the built-in extensions' dependencies" npm_quiet install --ignore-scripts --omit=dev
  cd "$dir"
  local version
  version="$(node node_modules/code-server/out/node/entry.js --version 2>>"$LOG" | head -n 1)" ||
    die "the installed code-server does not start (log: $LOG)"
  case "$version" in "$VERSION"*) ;; *) die "code-server --version printed '$version', expected $VERSION" ;; esac
  node -e "require('$vscode/node_modules/node-pty'); require('$vscode/node_modules/@parcel/watcher')" 2>>"$LOG" ||
    die "VS Code's native modules do not load (log: $LOG)"
}

main() {
  check_node
  if installed; then
    printf '%s\n' "$ENTRY"
    return 0
  fi
  command -v flock >/dev/null || die "flock (util-linux) is missing"
  mkdir -p "$(dirname "$INSTALL_DIR")"
  # Two test runs starting together: the second waits for the first, then finds the marker.
  exec 9>"$INSTALL_DIR.lock"
  flock -w 900 9 || die "another install holds $INSTALL_DIR.lock for over 15 minutes"
  if installed; then
    printf '%s\n' "$ENTRY"
    return 0
  fi
  local started=$SECONDS
  log "installing code-server $VERSION into $INSTALL_DIR"
  ensure_apt_packages
  ensure_node_headers
  local staging="$INSTALL_DIR.partial"
  rm -rf "$staging"
  mkdir -p "$staging"
  LOG="$staging/install.log"
  install_into "$staging"
  expected_marker >"$staging/.onnx-lean-installed"
  rm -rf "$INSTALL_DIR"
  mv "$staging" "$INSTALL_DIR"
  installed || die "install finished but $MARKER or $ENTRY is missing"
  log "installed in $((SECONDS - started)) s"
  printf '%s\n' "$ENTRY"
}

main "$@"
