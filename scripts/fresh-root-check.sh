#!/usr/bin/env bash
# Proves set-up on a truly fresh machine: debootstraps a plain Debian 12 root (nothing cached, nothing configured by
# hand), copies this working tree into it, and runs the README's test command there, one part at a time, so that a
# failure says whether making the root, set-up, the build or a test failed. Needs root (debootstrap, chroot, mount).
# Exit status: 0 passed, 10 the root could not be made, 11 set-up failed, 12 the build failed, 13 a test failed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/apt-mirror.sh"
say() { echo "fresh-root: $*"; }
[ "$(id -u)" = 0 ] || { say "needs root (debootstrap, chroot and bind mounts)"; exit 10; }

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null || {
    apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; } || {
    say "could not install debootstrap"; exit 10; }
fi
mirror=$(debian_mirror)
[ -n "$mirror" ] || { say "no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/"; exit 10; }
cuda=$(readlink -f "${CUDA_HOME:-/usr/local/cuda}" 2>/dev/null || true)

work=$(mktemp -d "${ZO2_FRESH_DIR:-/tmp}/zo2-fresh.XXXXXX")
root=$work/root
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -R -l "${mounts[i]}" 2>/dev/null || true; done
  if [ "${ZO2_KEEP_FRESH_ROOT:-0}" = 1 ]; then say "kept $work"; else rm -rf --one-file-system "$work"; fi
}
trap cleanup EXIT
bind() { mkdir -p "$2"; mount --rbind "$1" "$2"; mounts+=("$2"); }

t0=$(date +%s)
say "debootstrap --variant=minbase bookworm from $mirror into $root"
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1; then
  tail -20 "$work/debootstrap.log"; say "FAILED: making the root (debootstrap)"; exit 10
fi
mount -t proc proc "$root/proc"; mounts+=("$root/proc")
bind /dev "$root/dev"
bind /sys "$root/sys"
if [ -n "$cuda" ] && [ -d "$cuda" ]; then bind "$cuda" "$root/usr/local/cuda"; else say "no CUDA toolkit: CPU-only build"; fi
# The machine's network settings, as a fresh machine of its kind has them: its resolver, its extra trust anchors
# (a TLS-inspecting proxy's CA: Debian's ca-certificates adds them to the bundle when set-up installs it) and
# pip's configuration (which names that bundle). Nothing else of this machine goes in.
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
# The working tree as a user would have it: tracked and untracked-but-not-ignored files, and the history (tests and
# rows read the commit), never the build folders, the venv or anything else this machine made.
mkdir -p "$root/src/zo2"
(cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$root/src/zo2"
cp -a "$repo/.git" "$root/src/zo2/.git" 2>/dev/null || cp -a "$(cd "$repo" && git rev-parse --git-common-dir)" "$root/src/zo2/.git"
t1=$(date +%s)
say "root ready in $((t1 - t0)) s"

# One part of the README's test command inside the root, in a clean environment (no variable of this machine's).
inside() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 CI="${CI:-}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/cuda/bin \
    bash -c "cd /src/zo2 && $1"
}
part() {  # name, exit status on failure, command
  local start=$(date +%s) rc=0
  say "$1: $3"
  inside "$3" 2>&1 | sed -u "s/^/[$1] /" || rc=$?
  local end=$(date +%s)
  times+=("$1 $((end - start)) s")
  if [ $rc -ne 0 ]; then say "FAILED: $1 (exit $rc) after $((end - start)) s"; say "times: ${times[*]}"; exit "$2"; fi
}
times=("root $((t1 - t0)) s")
part set-up 11 "scripts/setup-debian.sh"
part set-up-again 11 "scripts/setup-debian.sh"  # re-running set-up where it is done is a no-op, not an error
part build 12 "scripts/build.sh"
part test 13 "scripts/test.sh"
say "passed: the README's test command in a fresh Debian 12 root; times: ${times[*]}"
