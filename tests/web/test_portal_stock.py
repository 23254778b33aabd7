"""The portal's Stock tab: a stock Face installed with ``facecraft stock add`` is what a new user sees
first, its card and page offer "Make a video" and "Talk to this Face", the studio opens on it and previews an
emotion (a short real render); a photo's voice is chosen from the server's stock voices."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from facecraft.cli import main
from facecraft.service.stock import build_stock_faces
from tests.web.portal import Portal, Shots

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stock_portal(portal: Portal, tmp_path_factory: pytest.TempPathFactory) -> Portal:
    stock = tmp_path_factory.mktemp("stock")
    build_stock_faces(stock, keys=["grace-hopper"])
    assert main(["stock", "add", str(stock), "--data-dir", str(portal.data_dir)]) == 0
    return portal


RENDER_TIMEOUT_MS = 5 * 60_000


def test_stock_tab_make_a_video_and_voice_choice(stock_portal: Portal, page: Page,
                                                 page_errors: list[str]) -> None:
    shot = Shots(page, prefix="stock-")
    page.goto(stock_portal.base_url + "/")
    page.get_by_label("API key").fill(stock_portal.key)
    page.get_by_label("API key").press("Enter")
    # No Face of one's own yet: the library opens on the Stock tab.
    stock_tab = page.get_by_role("tab", name="Stock")
    stock_tab.wait_for()
    page.wait_for_function("document.getElementById('tab-system').getAttribute('aria-selected') === 'true'")
    card = page.locator("li.face-card", has_text="Grace Hopper")
    card.wait_for()
    card.locator(".thumb img").wait_for()
    assert card.get_by_role("link", name="Talk to this Face").count() == 1  # the Stock tab's "Talk" hook
    shot("library")
    # The other tab, by keyboard, and back.
    stock_tab.press("ArrowLeft")
    page.get_by_text("No Faces yet").wait_for()
    page.get_by_role("tab", name="Stock").click()
    card.wait_for()
    # The stock Face's page: its preview speaks the greeting, no rename or delete, "Make a video".
    card.get_by_role("link", name="Grace Hopper").click()
    page.get_by_role("heading", name="Grace Hopper").wait_for()
    assert page.get_by_role("button", name="Delete this Face").count() == 0
    page.get_by_text("grace-us").wait_for()
    shot("face")
    page.get_by_role("link", name="Make a video").click()
    page.get_by_role("heading", name="Video studio").wait_for()
    face_id = page.url.rsplit("face=", 1)[1]
    page.wait_for_function(f"document.getElementById('studio-face').value === '{face_id}'")
    # The emotion picker: an intensity, a tag that carries it, and a short preview that is a real render.
    page.get_by_label("Emotion", exact=True).select_option("sad")
    page.get_by_label("Intensity").fill("0.6")
    assert page.locator("#intensity-value").inner_text() == "0.6"
    page.get_by_label("Script", exact=True).fill("I am sorry to hear that.")
    page.get_by_role("button", name="Insert emotion tag").click()
    assert page.get_by_label("Script", exact=True).input_value() == \
        'I am sorry to hear that.<emotion value="sad" intensity="0.6"/> '
    page.get_by_role("button", name="Preview").click()
    page.wait_for_function("(document.getElementById('preview-video') || {}).readyState >= 1",
                           timeout=RENDER_TIMEOUT_MS)
    duration = page.evaluate("document.getElementById('preview-video').duration")
    assert 0.5 < duration < 6.0, duration  # short: the script's first sentence
    shot("studio-preview")
    # A photo Face: the voice is a list of the server's stock voices.
    page.goto(stock_portal.base_url + "/#/create")
    page.get_by_label("a photo").check()
    voice = page.get_by_label("Voice")
    page.wait_for_function("document.querySelectorAll('#voice-name option').length > 3")
    values = voice.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    assert values[0] == "joe-us" and {"ada-us", "slt-us", "rms-us"} <= set(values)
    voice.select_option("ada-us")
    shot("create-photo-voice")
    assert not page_errors, page_errors
