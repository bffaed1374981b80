#!/usr/bin/env bash
# Regenerates src/api/pod-template/schema.generated.ts and test/fixtures/pod-template-hash-vectors.json with Go's
# encoding/json and k8s.io/api from the Kubernetes source tarball the cluster tests cache
# (test/cluster/build.sh downloads it). Needs `go` (Debian's golang-go); not part of npm test.
#
#   SLUICE_K8S_CACHE   cache directory holding src/kubernetes_*.orig.tar.gz (default ~/.cache/sluice-k8s)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
CACHE="${SLUICE_K8S_CACHE:-$HOME/.cache/sluice-k8s}"
TARBALL="$(ls "$CACHE"/src/kubernetes_*.orig.tar.gz 2>/dev/null | head -n1 || true)"
if [ -z "$TARBALL" ]; then
  echo "no kubernetes_*.orig.tar.gz in $CACHE/src: run test/cluster/build.sh first" >&2
  exit 1
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TOP="$(set +o pipefail; tar tzf "$TARBALL" | head -n1 | cut -d/ -f1)"
VERSION="${TOP#kubernetes-}"
echo "extracting vendor/ and staging/ of $TOP"
tar xzf "$TARBALL" -C "$WORK" "$TOP/vendor" "$TOP/staging"
# GOPATH layout: the generator's package with the Kubernetes vendor tree beside it (vendor/k8s.io/* link
# into staging/). Kubernetes 1.20's reflect2 1.0.1 is only reached through json-iterator, which this
# program does not use.
mkdir -p "$WORK/gopath/src/podtemplateschema"
cp scripts/pod-template-schema/main.go "$WORK/gopath/src/podtemplateschema/"
ln -s "$WORK/$TOP/vendor" "$WORK/gopath/src/podtemplateschema/vendor"
(cd "$WORK/gopath/src/podtemplateschema" &&
  GOPATH="$WORK/gopath" GO111MODULE=off GOFLAGS= GOCACHE="$WORK/gocache" go run . -repo "$REPO" -k8s-version "$VERSION")
npx biome format --write src/api/pod-template/schema.generated.ts test/fixtures/pod-template-hash-vectors.json \
  scripts/pod-template-schema/inputs.json >/dev/null
