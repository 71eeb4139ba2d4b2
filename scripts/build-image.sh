#!/usr/bin/env bash
# Builds the vnfpool container image with buildah (no Docker engine needed) and proves it: every binary
# answers --version inside the image. Nothing is pulled from a container registry: the two base images
# the Dockerfile names (debian:bookworm, debian:bookworm-slim) are made here with debootstrap from the
# Debian mirror this machine's apt already uses, and tagged with exactly those names.
#
#   scripts/build-image.sh               build, verify, and record the inputs' hash in scripts/image-inputs.sha256
#   scripts/build-image.sh --if-changed  do that only when the image's inputs changed since the recorded,
#                                        verified build (what CI runs); otherwise say so and exit 0
#   scripts/build-image.sh --print-hash  print the hash of the inputs and exit
#   scripts/build-image.sh --bases       only make the two base images
#
# The build context is the committed tree (git archive HEAD), so the image is that of a commit and
# uncommitted work in a shared tree cannot break it; VNFPOOL_IMAGE_CONTEXT=worktree uses the work tree.
#
# The inputs are the files that decide how the image is built (IMAGE_INPUTS below): the Dockerfile, its
# ignore file, this script, the dependency installer and the CMake presets. C++ changes do not trigger a
# rebuild: CI compiles and tests them anyway; a change that needs a new package touches install-deps.sh.
#
#   VNFPOOL_IMAGE        image name (default localhost/vnfpool:<project version>)
#   VNFPOOL_IMAGE_WORK   scratch space for the base root filesystems (default build/image)
#   STORAGE_DRIVER       buildah storage driver (default vfs: works in containers and without fuse)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

IMAGE_INPUTS=(Dockerfile .dockerignore scripts/build-image.sh scripts/install-deps.sh CMakePresets.json)
HASH_FILE=scripts/image-inputs.sha256
BINARIES=(vnfpool-registrar vnfpool-sidecar vnfpool-operator vnfpoolctl)
BUILD_BASE=docker.io/library/debian:bookworm
RUNTIME_BASE=docker.io/library/debian:bookworm-slim
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"

inputs_hash() {
  sha256sum "${IMAGE_INPUTS[@]}" | sha256sum | cut -d' ' -f1
}

mode="build"
case "${1:-}" in
  "") ;;
  --if-changed) mode="if-changed" ;;
  --print-hash) inputs_hash; exit 0 ;;
  --bases) mode="bases" ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "build-image: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

hash="$(inputs_hash)"
if [ "$mode" = "if-changed" ] && [ -f "$HASH_FILE" ] && [ "$(cut -d' ' -f1 "$HASH_FILE")" = "$hash" ]; then
  echo "build-image: inputs unchanged since the verified build ($hash); not rebuilding"
  exit 0
fi

version="$(sed -n 's/^project(vnfpool VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
image="${VNFPOOL_IMAGE:-localhost/vnfpool:${version:-latest}}"
work="${VNFPOOL_IMAGE_WORK:-$PWD/build/image}"
mkdir -p "$work"

# ---- tools (Debian packages) ------------------------------------------------------------------------
missing=()
for tool in buildah:buildah debootstrap:debootstrap; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "build-image: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Debian mirror this machine's apt uses (deb822 sources or a classic sources.list).
mirror() {
  local uri
  uri="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)"
  [ -n "$uri" ] || uri="$(grep -hsE '^deb +(\[[^]]*\] +)?[a-z]+://' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                          | grep -v security | sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1}' | head -n1 || true)"
  [ -n "$uri" ] || { echo "build-image: no Debian mirror found in /etc/apt" >&2; exit 1; }
  echo "$uri"
}

# ---- base images made locally -------------------------------------------------------------------------
have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

import_rootfs() {   # import_rootfs DIR NAME
  local dir="$1" name="$2" ctx
  ctx="$(mktemp -d "$work/ctx.XXXXXX")"
  tar --numeric-owner -C "$dir" -cf "$ctx/rootfs.tar" .
  printf 'FROM scratch\nADD rootfs.tar /\nCMD ["/bin/bash"]\n' > "$ctx/Containerfile"
  buildah bud --isolation=chroot --pull-never --layers=false -f "$ctx/Containerfile" -t "$name" "$ctx" >/dev/null 2>&1
  rm -rf "$ctx"
  echo "build-image: base image $name made from $dir"
}

if ! have_image "$BUILD_BASE" || ! have_image "$RUNTIME_BASE"; then
  rootfs="$work/bookworm"
  if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
    rm -rf "$rootfs"
    echo "build-image: debootstrap bookworm (minbase) into $rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$(mirror)" > "$work/debootstrap.log" 2>&1 || {
      tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  fi
  have_image "$BUILD_BASE" || import_rootfs "$rootfs" "$BUILD_BASE"
  if ! have_image "$RUNTIME_BASE"; then
    # "slim": no documentation, manual pages or translations, now or from later package installs.
    slim="$work/bookworm-slim"
    rm -rf "$slim" && cp -a "$rootfs" "$slim"
    mkdir -p "$slim/etc/dpkg/dpkg.cfg.d"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
      'path-exclude /usr/share/lintian/*' > "$slim/etc/dpkg/dpkg.cfg.d/docker-slim"
    find "$slim/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    rm -rf "$slim"/usr/share/{man,info,locale,lintian}/*
    import_rootfs "$slim" "$RUNTIME_BASE"
    rm -rf "$slim"
  fi
fi

[ "$mode" != "bases" ] || exit 0

# ---- the image ------------------------------------------------------------------------------------------
context="$PWD"
if [ "${VNFPOOL_IMAGE_CONTEXT:-commit}" != "worktree" ] && git rev-parse --verify -q HEAD >/dev/null 2>&1; then
  context="$work/context"
  rm -rf "$context" && mkdir -p "$context"
  git archive --format=tar HEAD | tar -x -C "$context"
  git rev-parse --short=12 HEAD > "$context/REVISION"  # no .git in the context: the build reads the commit here
  echo "build-image: context is commit $(git rev-parse --short=12 HEAD)"
  [ -z "$(git status --porcelain -- "${IMAGE_INPUTS[@]}")" ] \
    || echo "build-image: warning: uncommitted changes to image inputs are not in the image" >&2
fi
echo "build-image: building $image (inputs $hash)"
buildah bud --isolation=chroot --pull-never --layers=false -f "$context/Dockerfile" -t "$image" "$context" 2>&1 \
  | tee "$work/build.log" | grep -E '^(STEP|COMMIT|runtime packages:|lib|Error|error)' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { tail -n 40 "$work/build.log" >&2; echo "build-image: build failed" >&2; exit 1; }

# ---- proof: each binary runs inside the image, as the image's user ---------------------------------------
ctr="$(buildah from --pull-never "$image")"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
failed=0
expected_revision=""  # the commit the binaries must name (a committed context only)
[ ! -f "$context/REVISION" ] || expected_revision="$(cat "$context/REVISION")"
for b in "${BINARIES[@]}"; do
  if out="$(buildah run --isolation=chroot "$ctr" -- "/usr/local/bin/$b" --version 2>&1)"; then
    echo "build-image: $b --version: $out"
    case "$out" in
      *"($expected_revision)"*) ;;
      *) echo "build-image: $b does not name revision $expected_revision" >&2; failed=1 ;;
    esac
  else
    echo "build-image: $b --version FAILED: $out" >&2
    failed=1
  fi
done
user="$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")"
[ "$user" = "65532:65532" ] || { echo "build-image: image user is '$user', not 65532:65532" >&2; failed=1; }
[ "$failed" -eq 0 ] || exit 1

size="$(buildah images --format '{{.Size}}' "$image" | head -n1)"
echo "$hash  verified build of $image ($size) on $(date -u +%Y-%m-%d)" > "$HASH_FILE"
echo "build-image: $image verified; inputs hash recorded in $HASH_FILE"
