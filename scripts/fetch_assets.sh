#!/usr/bin/env bash
# Fetch the pinned web libraries from the npm registry at build time and install their browser files into
# meso360/web/static/vendor/: uPlot (charts), topojson-client and us-atlas (the track map's offline US state and
# county boundaries, Census Bureau TopoJSON). Each tarball's sha512 must match its pinned integrity, or nothing
# of it is installed and the script fails. Never run at run time: the web daemon serves only the files installed here.
# MESO360_ASSET_CACHE and MESO360_ASSET_VENDOR override the cache and install directories (the tests use them).
set -euo pipefail

UPLOT_VERSION=1.6.32
# `npm view uplot@1.6.32 dist.integrity`
UPLOT_INTEGRITY='sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=='
TOPOJSON_CLIENT_VERSION=3.1.0
# `npm view topojson-client@3.1.0 dist.integrity`
TOPOJSON_CLIENT_INTEGRITY='sha512-605uxS6bcYxGXw9qi62XyrV6Q3xwbndjachmNxu8HWTtVPxZfEJN9fd/SZS1Q54Sn2y0TMyMxFj/cJINqGHrKw=='
US_ATLAS_VERSION=3.0.1
# `npm view us-atlas@3.0.1 dist.integrity`
US_ATLAS_INTEGRITY='sha512-wEIZCq0ImPvGblTd8gZMqNNCPkQshugMUG/8nkSWXb02+XqNFREg9atHOKP9w6prLZTpqcLhSvdBW81MkV3/0Q=='

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${MESO360_ASSET_CACHE:-$ROOT/.cache/assets}"
VENDOR="${MESO360_ASSET_VENDOR:-$ROOT/meso360/web/static/vendor}"

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

verify() { # TARBALL INTEGRITY
	local actual
	actual="sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
	[ "$actual" = "$2" ]
}

# fetch NAME VERSION INTEGRITY: leave the verified tarball in $CACHE and unpack it into $STAGE/NAME.
fetch() {
	local name=$1 version=$2 integrity=$3
	local tarball="$CACHE/$name-$version.tgz"
	mkdir -p "$CACHE"
	if [ ! -f "$tarball" ] || ! verify "$tarball" "$integrity"; then
		command -v npm >/dev/null || { echo "fetch_assets: npm is needed (apt-get install npm)" >&2; exit 1; }
		rm -f "$tarball"
		echo ">> npm pack $name@$version"
		(cd "$CACHE" && npm pack --silent "$name@$version" >/dev/null)
		if ! verify "$tarball" "$integrity"; then
			echo "fetch_assets: $tarball does not match the pinned sha512 integrity; refusing it" >&2
			rm -f "$tarball"
			exit 1
		fi
	fi
	mkdir -p "$STAGE/$name"
	tar -xzf "$tarball" -C "$STAGE/$name"
}

# Every tarball is verified before anything is installed.
fetch uplot "$UPLOT_VERSION" "$UPLOT_INTEGRITY"
fetch topojson-client "$TOPOJSON_CLIENT_VERSION" "$TOPOJSON_CLIENT_INTEGRITY"
fetch us-atlas "$US_ATLAS_VERSION" "$US_ATLAS_INTEGRITY"

mkdir -p "$VENDOR"
install -m 0644 "$STAGE/uplot/package/dist/uPlot.iife.min.js" "$VENDOR/uPlot.iife.min.js"
install -m 0644 "$STAGE/uplot/package/dist/uPlot.min.css" "$VENDOR/uPlot.min.css"
install -m 0644 "$STAGE/uplot/package/LICENSE" "$VENDOR/uPlot.LICENSE"
echo "$UPLOT_VERSION" >"$VENDOR/uPlot.VERSION"
install -m 0644 "$STAGE/topojson-client/package/dist/topojson-client.min.js" "$VENDOR/topojson-client.min.js"
install -m 0644 "$STAGE/topojson-client/package/LICENSE" "$VENDOR/topojson-client.LICENSE"
echo "$TOPOJSON_CLIENT_VERSION" >"$VENDOR/topojson-client.VERSION"
# counties-10m: nation, states and counties, unprojected (longitude, latitude)
install -m 0644 "$STAGE/us-atlas/package/counties-10m.json" "$VENDOR/us-atlas-counties-10m.json"
install -m 0644 "$STAGE/us-atlas/package/LICENSE" "$VENDOR/us-atlas.LICENSE"
echo "$US_ATLAS_VERSION" >"$VENDOR/us-atlas.VERSION"
echo ">> uPlot $UPLOT_VERSION, topojson-client $TOPOJSON_CLIENT_VERSION, us-atlas $US_ATLAS_VERSION installed in ${VENDOR#"$ROOT"/}"
