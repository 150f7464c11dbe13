#!/usr/bin/env bash
# Fetch the pinned uPlot release from the npm registry at build time and install its browser files into
# meso360/web/static/vendor/. The tarball's sha512 must match the pinned integrity, or nothing is installed.
# Never run at run time: the web daemon serves only the files installed here.
set -euo pipefail

UPLOT_VERSION=1.6.32
# `npm view uplot@1.6.32 dist.integrity`
UPLOT_INTEGRITY='sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=='

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.cache/assets"
VENDOR="$ROOT/meso360/web/static/vendor"
TARBALL="$CACHE/uplot-$UPLOT_VERSION.tgz"

verify() {
	local actual
	actual="sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
	[ "$actual" = "$UPLOT_INTEGRITY" ]
}

mkdir -p "$CACHE"
if [ ! -f "$TARBALL" ] || ! verify "$TARBALL"; then
	command -v npm >/dev/null || { echo "fetch_assets: npm is needed (apt-get install npm)" >&2; exit 1; }
	rm -f "$TARBALL"
	echo ">> npm pack uplot@$UPLOT_VERSION"
	(cd "$CACHE" && npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null)
	if ! verify "$TARBALL"; then
		echo "fetch_assets: $TARBALL does not match the pinned sha512 integrity; refusing it" >&2
		rm -f "$TARBALL"
		exit 1
	fi
fi

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
tar -xzf "$TARBALL" -C "$STAGE" package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE
mkdir -p "$VENDOR"
install -m 0644 "$STAGE/package/dist/uPlot.iife.min.js" "$VENDOR/uPlot.iife.min.js"
install -m 0644 "$STAGE/package/dist/uPlot.min.css" "$VENDOR/uPlot.min.css"
install -m 0644 "$STAGE/package/LICENSE" "$VENDOR/uPlot.LICENSE"
echo "$UPLOT_VERSION" >"$VENDOR/uPlot.VERSION"
echo ">> uPlot $UPLOT_VERSION installed in ${VENDOR#"$ROOT"/}"
