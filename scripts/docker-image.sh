#!/usr/bin/env bash
# Builds the mycoin image on a machine that can pull no image: the release binaries are built
# on the host, then a root filesystem is assembled from them, the shared libraries `ldd` says
# they link and the dynamic loader, an unprivileged user (10001, in /etc/passwd), /tmp and
# /data, and `docker build` makes an image FROM scratch out of it (docker/Dockerfile.offline).
#
#   scripts/docker-image.sh [TAG]      # default mycoin:latest, the tag docker-compose.yml runs
#   MYCOIN_IMAGE_PROFILE=test scripts/docker-image.sh   # the binaries `cargo test` built
#
# With internet access, `docker build -t mycoin:latest .` builds the same image from the
# Dockerfile at the root of the repository instead.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-mycoin:latest}
bins=(mycoin-peer mycoin-keys mycoin-wallet mycoin-miner mycoin-explorer mycoin-healthcheck)

# MYCOIN_IMAGE_PROFILE=test takes the binaries `cargo test` built (optimised, no second
# build): the README's test command uses it; users get the release profile.
profile=${MYCOIN_IMAGE_PROFILE:-release}
echo "== cargo build --profile $profile: ${bins[*]}"
bin_flags=()
for bin in "${bins[@]}"; do bin_flags+=(--bin "$bin"); done
cargo build --profile "$profile" --locked -q "${bin_flags[@]}"
case $profile in
  dev | test) out_dir=debug ;;
  *) out_dir=$profile ;;
esac
release=${CARGO_TARGET_DIR:-target}/$out_dir

ctx=$(mktemp -d /tmp/mycoin-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/data"
chmod 1777 "$root/tmp"
chmod 0750 "$root/data"

libs=()
for bin in "${bins[@]}"; do
  # The release profile keeps line tables (debug = 1): 100 MB a binary, 15 MB without.
  strip --strip-debug -o "$root/usr/local/bin/$bin" "$release/$bin"
  chmod 0755 "$root/usr/local/bin/$bin"
  # Lines look like `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or
  # `/lib64/ld-linux-x86-64.so.2 (0x...)`; linux-vdso has no file.
  while read -r lib; do libs+=("$lib"); done < <(ldd "$release/$bin" | grep -o '/[^ ]*' || true)
done
if [ "${#libs[@]}" -eq 0 ]; then
  echo "ldd listed no library: expected dynamically linked binaries" >&2
  exit 1
fi
for lib in $(printf '%s\n' "${libs[@]}" | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib" # the file itself, not the symbolic link
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
mycoin:x:10001:10001:mycoin:/data:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
mycoin:x:10001:
EOF
# Service names (user1-peer, ...) resolve through Docker's DNS: files first, then DNS.
echo 'hosts: files dns' >"$root/etc/nsswitch.conf"

# Everything belongs to root but /data, which belongs to mycoin: no chown needed on the host.
tar -cf "$ctx/rootfs.tar" -C "$root" --numeric-owner --owner=0 --group=0 --exclude=./data .
tar -rf "$ctx/rootfs.tar" -C "$root" --numeric-owner --owner=10001 --group=10001 ./data
cp docker/Dockerfile.offline "$ctx/Dockerfile"

echo "== docker build -t $tag (FROM scratch: ${#bins[@]} binaries, $(printf '%s\n' "${libs[@]}" | sort -u | wc -l) libraries)"
# Without the buildx plugin the docker CLI can only use the classic builder: ask for it plainly.
if ! docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0; fi
if ! docker build -q -t "$tag" -f "$ctx/Dockerfile" "$ctx" >"$ctx/build.log" 2>&1; then
  cat "$ctx/build.log" >&2
  exit 1
fi
docker image ls "$tag" --format '== built {{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
