"""The web page in a real headless Chromium (Debian's package, driven by Playwright): upload an
image, type a text, read the predictions back, ask why; bad files show the server's message and hint."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "chromium is installed by `make test` (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def test_upload_an_image_and_type_a_text(browser, server_process, image_run, text_run, tmp_path, shapes_png):
    image = tmp_path / "circle.png"
    image.write_bytes(shapes_png)
    broken = tmp_path / "broken.png"
    broken.write_bytes(shapes_png[:40])
    with server_process([f"shapes={image_run}", f"tickets={text_run}", "--port", "0"]) as (_, url):
        page = browser.new_page()
        page.set_default_timeout(60_000)  # a loaded CI machine is slow; every wait below is for an event
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{url}/ui")

        page.click("nav button[data-model=shapes]")
        page.set_input_files("#file", str(image))
        expect(page.locator("#preview img")).to_have_count(1)
        page.click("#predict")
        answer = page.locator("#result .answer").first
        expect(answer).to_have_text(re.compile(r"^(circle|square|stripes)$"), timeout=60_000)
        expect(page.locator("#result .bar")).to_have_count(3)

        page.select_option("#method", "gradcam")
        page.click("#explain")
        overlay = page.locator("#result .explanation img").first
        expect(overlay).to_have_attribute("src", re.compile(r"^data:image/png;base64,iVBOR"), timeout=60_000)
        assert page.evaluate("document.querySelector('#result .explanation img').naturalWidth") > 0
        expect(page.locator("#result .explanation .answer")).to_contain_text("gradcam: why")

        page.set_input_files("#file", str(broken))
        page.click("#predict")
        expect(page.locator("#error")).to_contain_text("cannot read image 'broken.png'", timeout=60_000)

        page.click("nav button[data-model=tickets]")
        page.fill("#text", "my refund and invoice please\nthe parcel courier is late")
        page.click("#predict")
        answers = page.locator("#result .answer")
        expect(answers).to_have_count(2, timeout=60_000)
        assert answers.all_inner_texts() == ["billing", "shipping"]

        page.fill("#text", "<b>refund</b> and invoice please")
        page.click("#explain")
        words = page.locator("#tokens .tok")
        expect(words.last).to_have_text("please", timeout=60_000)
        assert "".join(words.all_inner_texts()) == "<b>refund</b>andinvoiceplease", "text, never markup"
        assert page.locator("#tokens b").count() == 0
        assert all("background: rgb" in words.nth(i).get_attribute("style") for i in range(words.count()))
        assert not errors, errors
