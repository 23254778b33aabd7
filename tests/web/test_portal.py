"""Fast browser test of the portal: sign-in, sign-out, and inline validation of a bad upload."""

from __future__ import annotations

import random
import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.utils import testdata_path as recording  # aliased: pytest would collect a test_* name
from tests.web.portal import Portal, Shots, facecraft_command

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


def test_sign_in_and_bad_upload_is_refused_inline(portal: Portal, page: Page, page_errors: list[str]) -> None:
    shot = Shots(page, prefix="signin-")
    page.goto(portal.base_url + "/")
    key_input = page.get_by_label("API key")
    key_input.wait_for()
    shot("sign-in")

    # A wrong key is refused, stays signed out, and says why.
    key_input.fill("not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#sign-in-error").filter(has_text="not valid").wait_for()
    assert page.evaluate("localStorage.getItem('facecraft.apiKey')") is None
    shot("wrong-key")

    # The right key opens the library and is remembered.
    key_input.fill(portal.key)
    key_input.press("Enter")
    page.get_by_role("heading", name="Faces", exact=True).wait_for()
    assert page.evaluate("localStorage.getItem('facecraft.apiKey')") == portal.key
    page.get_by_text("No Faces yet").wait_for()
    shot("library-empty")

    # Random bytes named .mp4: the inline report shows the failed format check, training stays off.
    page.get_by_role("link", name="New Face").first.click()
    page.get_by_role("heading", name="New Face").wait_for()
    train = page.get_by_role("button", name="Train this Face")
    assert train.is_disabled()
    junk = random.Random(5).randbytes(256 * 1024)
    page.get_by_label("Training file").set_input_files(
        {"name": "random.mp4", "mimeType": "video/mp4", "buffer": junk}
    )
    failed = page.locator('li.check[data-check-id="video_format"][data-status="fail"]')
    failed.wait_for(timeout=60_000)
    assert page.locator("section.report").get_attribute("data-status") == "fail"
    assert failed.locator(".check-message").inner_text().strip(), "the failed check has no sentence"
    assert train.is_disabled()
    assert "check failed" in page.locator("#train-help").inner_text()
    assert page.get_by_label("Face name").input_value() == "random"
    shot("bad-upload-report")

    # A photo is checked the same way (image-validation); Train follows the verdict.
    page.get_by_role("radio", name="a photo").check()
    assert page.get_by_label("Voice", exact=True).is_visible()
    assert page.locator("#validation section.report").count() == 0, "switching kind clears the old report"
    page.get_by_label("Training file").set_input_files(str(recording("photo", "face_recognition_biden2.jpg")))
    photo_report = page.locator("#validation section.report")
    photo_report.wait_for(timeout=60_000)
    assert photo_report.locator("li.check").count() >= 1
    assert train.is_disabled() == (photo_report.get_attribute("data-status") == "fail")
    shot("photo-report")

    # Back to video for the keyboard check.
    page.get_by_role("radio", name="a one-minute video").check()

    # Keyboard: the file input and the navigation are reachable with Tab, and focus is visible.
    page.get_by_label("Face name").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "train-file"

    # Sign-out forgets the key and shows the sign-in form again.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key").wait_for()
    assert page.evaluate("localStorage.getItem('facecraft.apiKey')") is None
    shot("signed-out")

    # A key revoked on the server signs the portal out at its next request.
    page.get_by_label("API key").fill(portal.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Faces", exact=True).wait_for()
    done = subprocess.run(
        [*facecraft_command(), "keys", "revoke", portal.key, "--data-dir", str(portal.data_dir)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    page.get_by_role("link", name="Video studio").click()
    page.locator("#sign-in-error").filter(has_text="no longer valid").wait_for()
    assert page.evaluate("localStorage.getItem('facecraft.apiKey')") is None
    shot("key-revoked")
    assert page_errors == []
