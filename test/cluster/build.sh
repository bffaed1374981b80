#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager (Kubernetes 1.20.2, Debian's source package) into a
# cache outside the repo, and installs the Debian packages the test control plane needs (etcd, kubectl,
# openssl). Idempotent: does nothing but report when both binaries are already in the cache.
#
#   SLUICE_K8S_CACHE      cache directory (default ~/.cache/sluice-k8s); binaries land in $SLUICE_K8S_CACHE/bin
#   SLUICE_K8S_KEEP_SRC=1 keep the extracted source tree (about 2 GB) after a successful build
#
# Takes about 8-10 minutes on 2 cores the first time; runs the compiler under `nice` so it does not starve
# other work on the machine.
set -euo pipefail

CACHE="${SLUICE_K8S_CACHE:-$HOME/.cache/sluice-k8s}"
BIN="$CACHE/bin"
SRC_PARENT="$CACHE/src"
APT_PACKAGES=(golang-go etcd-server rsync golang-github-modern-go-reflect2-dev openssl dpkg-dev)

log() { printf '[cluster-build %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

have_binaries() { [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ]; }
have_kubectl() { [ -x "$BIN/kubectl" ]; }

# Debian's kubectl 1.20 (package kubernetes-client), unpacked into the cache rather than installed: machines
# often have another package owning /usr/bin/kubectl, and the tests want the client matching the server.
ensure_kubectl() {
  have_kubectl && return 0
  apt_update_once
  local tmp
  tmp="$(mktemp -d)"
  log "apt-get download kubernetes-client (Debian's kubectl) into the cache"
  (cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null && dpkg-deb -x kubernetes-client_*.deb root)
  install -m 0755 "$tmp/root/usr/bin/kubectl" "$BIN/kubectl"
  rm -rf "$tmp"
}

missing_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"
  done
}

ensure_deb_src() {
  local list=/etc/apt/sources.list.d/sluice-deb-src.sources
  if [ ! -f "$list" ]; then
    log "enabling deb-src in $list (copied from debian.sources)"
    sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | as_root tee "$list" >/dev/null
    APT_UPDATED=0
  fi
}

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
}

install_packages() {
  local missing
  missing="$(missing_packages | tr '\n' ' ')"
  if [ -n "${missing// /}" ]; then
    apt_update_once
    log "apt-get install $missing"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
  # The etcd package starts a system service on the default ports; the tests run their own etcd.
  if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now etcd >/dev/null 2>&1 || true; fi
  if [ -x /usr/sbin/service ] || command -v service >/dev/null 2>&1; then as_root service etcd stop >/dev/null 2>&1 || true; fi
}

if have_binaries && have_kubectl && [ -z "$(missing_packages)" ]; then
  log "kube-apiserver, kube-controller-manager and kubectl already in $BIN; nothing to do"
  exit 0
fi

START=$(date +%s)
mkdir -p "$BIN" "$SRC_PARENT"
install_packages
ensure_kubectl

if have_binaries; then
  log "binaries already in $BIN"
  exit 0
fi

ensure_deb_src
SRC_DIR="$(find "$SRC_PARENT" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1 || true)"
if [ -z "$SRC_DIR" ]; then
  if ! ls "$SRC_PARENT"/kubernetes_*.dsc >/dev/null 2>&1; then
    apt_update_once
    log "apt-get source --download-only kubernetes into $SRC_PARENT"
    (cd "$SRC_PARENT" && apt-get source --download-only kubernetes)
  fi
  log "extracting the source package"
  (cd "$SRC_PARENT" && dpkg-source --no-check -x kubernetes_*.dsc >/dev/null)
  SRC_DIR="$(find "$SRC_PARENT" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)"
fi
log "source in $SRC_DIR"

# The vendored reflect2 1.0.1 crashes under Go >= 1.18; Debian's packaged copy works.
VENDORED="$SRC_DIR/vendor/github.com/modern-go/reflect2"
if [ ! -f "$VENDORED/.sluice-replaced" ]; then
  log "replacing vendored github.com/modern-go/reflect2 with Debian's copy"
  rm -rf "$VENDORED"
  mkdir -p "$VENDORED"
  rsync -a /usr/share/gocode/src/github.com/modern-go/reflect2/ "$VENDORED/"
  touch "$VENDORED/.sluice-replaced"
fi

# GOPATH layout, as Debian's rules build it.
mkdir -p "$SRC_DIR/.go/src/k8s.io"
ln -sfn "$SRC_DIR" "$SRC_DIR/.go/src/k8s.io/kubernetes"

log "go build of kube-apiserver and kube-controller-manager (nice 10; several minutes)"
(
  cd "$SRC_DIR/.go/src/k8s.io/kubernetes"
  export GOPATH="$SRC_DIR/.go" GO111MODULE=off CGO_ENABLED=0 GOFLAGS=
  nice -n 10 make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
)

OUT="$SRC_DIR/_output/bin"
[ -x "$OUT/kube-apiserver" ] || OUT="$SRC_DIR/_output/local/bin/linux/amd64"
for b in kube-apiserver kube-controller-manager; do
  install -m 0755 "$OUT/$b" "$BIN/$b.tmp"
  mv "$BIN/$b.tmp" "$BIN/$b"
done
# The extracted tree and its build cache take about 2 GB; the downloaded source package (34 MB) is kept so a
# rebuild needs no network. SLUICE_K8S_KEEP_SRC=1 keeps the tree for incremental rebuilds.
if [ "${SLUICE_K8S_KEEP_SRC:-0}" != "1" ]; then
  log "removing the extracted source tree $SRC_DIR (set SLUICE_K8S_KEEP_SRC=1 to keep it)"
  rm -rf "$SRC_DIR"
fi
log "done in $(($(date +%s) - START)) s: $BIN/kube-apiserver, $BIN/kube-controller-manager"
