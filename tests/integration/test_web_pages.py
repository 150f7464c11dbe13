"""The two pages served by the real meso360-web process: one shared <head> (views/head.tpl), each page's title."""

from pathlib import Path

import pytest
import requests
from web_helpers import start_web

HEAD_TEMPLATE = Path(__file__).resolve().parents[2] / "meso360" / "web" / "views" / "head.tpl"
PAGES = [("/", "meso360 control panel", "/static/control.js"), ("/view", "NSSL Mobile Mesonet", "/static/dashboard.js")]


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    process = start_web(tmp_path_factory.mktemp("pages"))
    yield process
    process.stop()


@pytest.mark.parametrize(("path", "title", "script"), PAGES)
def test_each_page_has_the_shared_head_with_its_own_title_then_its_own_scripts(web, path, title, script):
    answer = requests.get(web.url + path, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-cache"
    shared = HEAD_TEMPLATE.read_text(encoding="utf-8").replace("{{title}}", title)
    assert f"<title>{title}</title>" in shared
    page = answer.text
    assert page.startswith('<!doctype html>\n<html lang="en">\n<head>\n' + shared)
    assert f'<script type="module" src="{script}"></script>' in page.split("</head>")[0]
    # Nothing of the template language reaches the browser.
    assert "{{" not in page and not any(line.lstrip().startswith("%") for line in page.splitlines())


def test_the_panel_has_its_four_cards_in_order_and_the_map_in_the_position_card(web):
    page = requests.get(web.url + "/", timeout=10).text
    cards = [f'<div id="{card}-card" class="kv-list"></div>' for card in ("system", "position", "resources", "tunnel")]
    places = [page.index(card) for card in cards]
    assert places == sorted(places)
    position = page[places[1] : places[2]]
    assert '<div id="position-map" class="position-map" aria-label="track map"></div>' in position
    assert page.count('id="position-map"') == 1
