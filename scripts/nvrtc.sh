#!/usr/bin/env bash
# Fetches NVIDIA's runtime compiler (NVRTC 11.8, Debian's non-free
# libnvrtc11.2 and libnvrtc-builtins11.8 packages) into .cache/nvrtc
# (PAIMENG_NVRTC_DIR). NVRTC needs no GPU: the kernels tests compile the
# project's CUDA sources with it for real GPU architectures on any machine,
# then run them on the CUDA emulator. GPU machines normally use the NVRTC of
# their own CUDA installation; this one is the fallback. Both packages are
# checked by sha256. Nothing is installed into the system: apt only
# downloads, into a private folder. Does nothing when the folder is ready.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=11.8.89~11.8.0-5~deb12u1
NVRTC_SHA256=051b70a3d8737eae470b4158e234cf112c803f631b2c77ae60a24a1146309c22
BUILTINS_SHA256=e446e112c304b86a35925bea6a3991a866a29736fac261adb218ec29efb49bb8
DIR=$(realpath -m "${PAIMENG_NVRTC_DIR:-.cache/nvrtc}")
stamp="$VERSION $NVRTC_SHA256 $BUILTINS_SHA256"
[ "$(cat "$DIR/.fetched" 2>/dev/null)" = "$stamp" ] && exit 0

command -v apt-get >/dev/null || { echo "nvrtc: apt-get is required to download Debian's libnvrtc packages" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "nvrtc: dpkg-deb is required to unpack Debian's libnvrtc packages" >&2; exit 1; }
tmp=$(mktemp -d /tmp/paimeng-nvrtc-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs"
echo "deb http://deb.debian.org/debian bookworm non-free" >"$tmp/sources.list"
apt=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o Debug::NoLocking=1
	-o APT::Sandbox::User=root)
echo "nvrtc: fetching NVRTC $VERSION (Debian non-free, download only)" >&2
apt-get "${apt[@]}" update -qq >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
(cd "$tmp/debs" && apt-get "${apt[@]}" download -qq "libnvrtc11.2=$VERSION" "libnvrtc-builtins11.8=$VERSION" >/dev/null 2>"$tmp/err") || {
	cat "$tmp/err" >&2
	exit 1
}
for f in "libnvrtc11.2 $NVRTC_SHA256" "libnvrtc-builtins11.8 $BUILTINS_SHA256"; do
	set -- $f
	deb=$(ls "$tmp/debs/$1"_*.deb)
	if ! echo "$2  $deb" | sha256sum -c --status -; then
		echo "nvrtc: $(basename "$deb") checksum mismatch; refusing it" >&2
		exit 1
	fi
	dpkg-deb -x "$deb" "$tmp/root"
done
rm -rf "$DIR"
mkdir -p "$DIR"
cp -a "$tmp"/root/usr/lib/x86_64-linux-gnu/libnvrtc* "$DIR/"
echo "$stamp" >"$DIR/.fetched"
