#!/usr/bin/env python3
"""Draw the meso360 icon (an SVG) and render the PNG sizes and favicon.ico of meso360/web/static with Chromium.

Run by hand when the icon changes (`.venv/bin/python scripts/make_icons.py`); the outputs are committed, so a build
needs neither Chromium nor this script. The rendering uses the Debian chromium through Playwright, as the tests do.
"""

import base64
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "meso360" / "web" / "static"
sys.path.insert(0, str(ROOT / "tests" / "integration"))

# A compass rose (the dashboard's): the wind arrow in blue, the vehicle heading in orange, north in red.
# full_bleed: the maskable variant, a square background with everything inside the central 80 % safe zone.
TEMPLATE = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">
  <rect width="512" height="512" rx="{radius}" fill="#1e1e2e"/>
  <g transform="translate(256 256) scale({scale})">
    <circle r="190" fill="#181825" stroke="#45475a" stroke-width="22"/>
    <g stroke="#a6adc8" stroke-width="18" stroke-linecap="round">
      <line x1="0" y1="-190" x2="0" y2="-150" stroke="#f38ba8"/>
      <line x1="190" y1="0" x2="150" y2="0"/><line x1="0" y1="190" x2="0" y2="150"/>
      <line x1="-190" y1="0" x2="-150" y2="0"/>
    </g>
    <g transform="rotate(115)">
      <line x1="0" y1="0" x2="0" y2="-118" stroke="#89b4fa" stroke-width="30" stroke-linecap="round"/>
      <path d="M0 -168 L44 -100 L-44 -100 Z" fill="#89b4fa"/>
    </g>
    <g transform="rotate(-20)">
      <line x1="0" y1="0" x2="0" y2="-118" stroke="#fab387" stroke-width="30" stroke-linecap="round"/>
      <path d="M0 -168 L44 -100 L-44 -100 Z" fill="#fab387"/>
    </g>
    <circle r="30" fill="#cdd6f4"/>
  </g>
</svg>
"""
PNG_SIZES = {"icon-192.png": 192, "icon-512.png": 512}
SQUARE_SIZES = {"apple-touch-icon.png": 180}  # iOS rounds the corners itself and shows transparency as black
MASKABLE_SIZES = {"icon-maskable-512.png": 512}
ICO_SIZES = (16, 32, 48)


def svg(full_bleed, square=False):
    """Return the icon's SVG text; full_bleed: no rounded corners and the rose inside the maskable safe zone;
    square: no rounded corners."""
    return TEMPLATE.format(radius=0 if full_bleed or square else 96, scale=0.82 if full_bleed else 1.1)


def render(page, svg_text, size):
    """Return the PNG bytes of svg_text drawn at size × size px (transparent outside the drawing)."""
    data = base64.b64encode(svg_text.encode()).decode()
    page.set_viewport_size({"width": size, "height": size})
    page.set_content(
        '<html><body style="margin:0;background:transparent">'
        f'<img src="data:image/svg+xml;base64,{data}" width="{size}" height="{size}" style="display:block">'
        "</body></html>"
    )
    page.wait_for_function("document.images[0].complete")
    return page.screenshot(omit_background=True, clip={"x": 0, "y": 0, "width": size, "height": size})


def ico(pngs):
    """Given {size: png bytes}, return a .ico holding them (PNG-compressed entries, read by every current browser)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, png in sorted(pngs.items()):
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset + len(blobs))
        blobs += png
    return header + entries + blobs


def main():
    from browser_helpers import chromium_browser

    (STATIC / "icon.svg").write_text(svg(False))
    with chromium_browser() as browser:
        page = browser.new_page()
        for name, size in PNG_SIZES.items():
            (STATIC / name).write_bytes(render(page, svg(False), size))
        for name, size in SQUARE_SIZES.items():
            (STATIC / name).write_bytes(render(page, svg(False, square=True), size))
        for name, size in MASKABLE_SIZES.items():
            (STATIC / name).write_bytes(render(page, svg(True), size))
        (STATIC / "favicon.ico").write_bytes(ico({size: render(page, svg(False), size) for size in ICO_SIZES}))
    print(f"icons written to {STATIC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
