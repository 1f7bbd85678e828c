"""The web page in a real headless Chromium (Debian's package, driven by Playwright): upload an
image, type a text, read the predictions back, ask why; bad files show the server's message and hint;
a forecast drawn with its history and interval; the speech decoder chosen from a list; detection boxes and a
segmentation mask over the image; table rows scored in one table with the anomalies highlighted; the API
docs rendered with every request beyond this machine blocked."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
from PIL import Image
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
        page.fill("#text", "my refund and invoice please\nmy parcel and courier please")  # phrased as trained: sure answers
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


def offline(page) -> list[str]:
    """Cut ``page`` off from everything but this machine; the list fills with what it asked elsewhere."""
    outside: list[str] = []

    def route(route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return outside


def watched(page) -> list[str]:
    """Script errors and console errors (a Content-Security-Policy refusal is one) of ``page``."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    return problems


def screenshot(page, name: str, full_page: bool = True) -> None:
    """A screenshot into $TORCHWORKS_SCREENSHOTS, when set (for notes and reviews)."""
    folder = os.environ.get("TORCHWORKS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


def test_api_docs_render_with_the_network_blocked(browser, server_process, image_run):
    with server_process([f"shapes={image_run}", "--port", "0"]) as (_, url):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        outside, problems = offline(page), watched(page)
        page.goto(f"{url}/ui")
        page.click("a.docs")  # the page's own link
        expect(page).to_have_url(f"{url}/docs")
        predict = page.locator(".opblock-summary-path[data-path='/v1/models/shapes/predict']")
        expect(predict).to_be_visible()
        assert page.locator(".opblock").count() >= 6  # service routes, describe, predict, explain
        predict.click()  # an operation opens with its request body's schema
        expect(page.locator(".opblock-body").first).to_contain_text("multipart/form-data")
        screenshot(page, "docs-offline")

        page.goto(f"{url}/redoc")
        expect(page.locator("h1").first).to_contain_text("torchworks")
        operation = page.get_by_role("heading", name="Predict with shapes (image-classification)")
        expect(operation).to_be_visible()
        operation.scroll_into_view_if_needed()
        expect(page.get_by_role("heading", name="Response samples").first).to_be_visible()
        screenshot(page, "redoc-offline", full_page=False)  # its menu sticks to the window
        assert not outside, f"the docs asked beyond this machine: {outside}"
        # ReDoc's attribution logo is the one remote file it names: the policy refuses it and ReDoc hides it
        assert [p for p in problems if "cdn.redoc.ly/redoc/logo-mini.svg" not in p] == [], problems


def test_forecast_chart_and_speech_decoder_choice(browser, server_process, forecast_run, driven_run, speech_run,
                                                  tmp_path):
    sales = pd.read_csv(forecast_run.parents[2] / "sales.csv")
    driven = pd.read_csv(driven_run.parents[2] / "driven.csv").groupby("store").tail(12)
    recent = tmp_path / "recent.csv"
    sales.groupby("store").tail(30).to_csv(recent, index=False)
    clip = next((speech_run.parents[2] / "clips").glob("*.wav"))
    served = [f"sales={forecast_run}", f"driven={driven_run}", f"speech={speech_run}", "--port", "0"]
    with server_process(served) as (_, url):
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(60_000)
        outside, problems = offline(page), watched(page)
        page.goto(f"{url}/ui")

        page.click("nav button[data-model=sales]")
        page.set_input_files("#file", str(recent))
        page.click("#predict")
        charts = page.locator("#result svg.chart")
        expect(charts).to_have_count(2, timeout=60_000)
        north = page.locator("svg.chart[data-series=north]")
        # the last 24 of the 30 rows sent (max of lookback 8, 3 x horizon 4 and 24), then the 4 steps
        expect(north).to_have_attribute("data-history-points", "24")
        expect(north).to_have_attribute("data-forecast-points", "4")
        expect(north).to_have_attribute("data-interval", "q0.1-q0.9")
        assert north.locator("path.history").count() == north.locator("path.forecast").count() == 1
        assert north.locator("path.band").count() == 1 and north.locator("circle.forecast-point").count() == 4
        assert north.locator(".axis-label").all_text_contents() == ["week", "sales"]
        y_ticks = [float(t.replace(",", "")) for t in north.locator(".axis.y text").all_text_contents()]
        observed = sales[sales.store == "north"].sales.tail(24)
        assert len(y_ticks) >= 3 and y_ticks[0] <= observed.min() and y_ticks[-1] >= observed.max()
        x_ticks = north.locator(".axis.x text").all_text_contents()
        assert len(x_ticks) >= 4 and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for t in x_ticks)
        assert x_ticks[0] == sales[sales.store == "north"].week.iloc[-24]  # the history's first row
        geometry = north.evaluate("""svg => {
            const band = svg.querySelector('path.band'), points = [...svg.querySelectorAll('circle.forecast-point')];
            const history = svg.querySelector('path.history').getAttribute('d').split(/[ML]/).filter(Boolean);
            return {lastX: Number(history[history.length - 1].split(',')[0]),
                    xs: points.map(c => Number(c.getAttribute('cx'))),
                    inside: points.every(c => band.isPointInFill(new DOMPoint(c.cx.baseVal.value, c.cy.baseVal.value)))};
        }""")
        assert geometry["lastX"] < geometry["xs"][0] and geometry["xs"] == sorted(geometry["xs"])
        assert geometry["inside"], "each forecast lies within its interval band"
        screenshot(page, "ui-forecast")

        # pasted rows, a point forecaster (no quantiles): history and forecast, and a caption saying why no band
        page.click("nav button[data-model=driven]")
        page.fill("#table", driven.to_csv(index=False))
        page.click("#predict")
        expect(page.locator("#result svg.chart")).to_have_count(4, timeout=60_000)
        first = page.locator("svg.chart[data-series=s0]")
        expect(first).to_have_attribute("data-interval", "none")
        expect(first).to_have_attribute("data-history-points", "12")
        assert first.locator("path.band").count() == 0 and first.locator("path.forecast").count() == 1
        assert first.locator(".axis-label").all_text_contents() == ["day", "sales"]
        expect(page.locator("#result figcaption").first).to_contain_text("a point forecast: train with quantiles=")

        page.click("nav button[data-model=speech]")
        decoder = page.locator("#option-decoder")
        assert decoder.evaluate("node => node.tagName") == "SELECT"
        assert decoder.locator("option").evaluate_all("options => options.map(o => o.value)") == ["greedy", "beam"]
        expect(decoder).to_have_value("beam")  # what the model was trained with
        width = page.locator("#option-beam_width")
        assert (width.get_attribute("type"), width.get_attribute("min"), width.get_attribute("max")) == ("number", "1",
                                                                                                            "1000")
        decoder.select_option("greedy")
        page.set_input_files("#file", str(clip))
        with page.expect_request(lambda request: request.url.endswith("/v1/models/speech/predict")) as sent:
            page.click("#predict")
        assert b'{"decoder":"greedy"}' in sent.value.post_data_buffer
        expect(page.locator("#result .prediction .answer")).to_have_count(1, timeout=60_000)
        screenshot(page, "ui-speech")
        assert not outside, outside
        assert not problems, problems


def test_detection_boxes_drawn_over_the_image_and_filtered_by_the_slider(browser, server_process, detection_run,
                                                                           scenes_dir):
    """Boxes come from one request at a low threshold; the slider hides boxes (and their table rows)
    below the chosen score without asking the server again."""
    scene = sorted((scenes_dir / "images").iterdir())[1]
    with server_process([f"scenes={detection_run}", "--port", "0"]) as (_, url):
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        page.set_default_timeout(60_000)
        outside, problems = offline(page), watched(page)
        page.goto(f"{url}/ui")
        page.click("nav button[data-model=scenes]")
        page.set_input_files("#file", str(scene))
        with page.expect_request(lambda request: request.url.endswith("/v1/models/scenes/predict")) as sent:
            page.click("#predict")
        assert b'{"conf":0.01}' in sent.value.post_data_buffer  # asked once, low; the slider filters
        drawn = page.locator("#result svg.boxes")
        expect(drawn).to_have_count(1, timeout=60_000)
        total = int(drawn.get_attribute("data-boxes"))
        assert total > 0
        assert page.evaluate("document.querySelector('#result img.boxed').naturalWidth") == 128
        slider = page.locator("#confidence")
        conf = json.loads((detection_run / "bundle.json").read_text())["config"]["conf"]  # the model's own
        assert (slider.get_attribute("min"), slider.get_attribute("value")) == ("0.01", str(conf))
        expect(page.locator("#confidence-value")).to_have_text(f"{conf:.2f}")

        slider.focus()
        page.keyboard.press("Home")  # the lowest score asked for: every box
        expect(drawn).to_have_attribute("data-shown", str(total))
        assert page.locator("#result g.box:not([display=none]) rect.frame").count() == total
        assert page.locator("#result .box-table tr[data-score]:not([hidden])").count() == total
        scores = sorted(float(s) for s in page.locator("#result g.box").evaluate_all(
            "groups => groups.map(g => g.dataset.score)"))
        middle = round(scores[len(scores) // 2], 2) + 0.01
        slider.fill(f"{middle:.2f}")
        above = sum(score >= float(f"{middle:.2f}") for score in scores)
        assert above < total
        expect(drawn).to_have_attribute("data-shown", str(above))
        assert page.locator("#result g.box:not([display=none])").count() == above
        assert page.locator("#result .box-table tr[data-score]:not([hidden])").count() == above
        expect(page.locator("#boxes-shown")).to_have_text(f"{above} of {total} boxes shown")
        # one colour per class: every box of a class is drawn in its class's colour, and classes differ
        colours = page.locator("#result g.box").evaluate_all(
            "groups => groups.map(g => [g.dataset.label, g.querySelector('rect.frame').getAttribute('stroke')])")
        by_class = {}
        for label, colour in colours:
            by_class.setdefault(label, set()).add(colour)
        assert all(len(c) == 1 for c in by_class.values())
        assert len({next(iter(c)) for c in by_class.values()}) == len(by_class)
        tag = page.locator("#result g.box text").first.text_content()
        assert re.fullmatch(r"(car|person|sign|cone) 0\.\d\d", tag), tag
        screenshot(page, "ui-detection")
        assert not outside, outside
        assert not problems, problems


# the lesion model's network replaced by a brightness threshold (in the served process), so that the mask
# the page must draw is known whatever a few seconds of training taught the U-Net
BRIGHT_IS_LESION = """
import torch
from torchworks.tasks.segmentation.unet import UNet

def _bright(self, images):
    grey = images.mean(dim=1)
    return torch.stack([0.5 - grey, grey - 0.5], dim=1) * 20

UNet.forward = _bright
"""


def _discs(path: Path) -> np.ndarray:
    """A 160 x 120 picture: bright discs and a bar on a dark gradient; writes it, returns where it is bright."""
    ys, xs = np.mgrid[:120, :160]
    grey = 30 + xs * 0.5
    grey[(xs - 55) ** 2 + (ys - 62) ** 2 < 34 ** 2] = 225
    grey[(xs - 125) ** 2 + (ys - 32) ** 2 < 16 ** 2] = 200
    grey[95:108, 100:150] = 190
    pixels = np.stack([grey, grey * 0.9, grey * 0.8], axis=2).round().astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels.astype(np.float64).mean(axis=2) / 255 > 0.5


def test_segmentation_mask_overlaid_with_an_opacity_slider_and_a_class_legend(browser, server_process,
                                                                             segmentation_run, lesion_scans, tmp_path):
    """The masks come as COCO RLE; the page decodes them onto a canvas over each image sent, exactly where
    the mask says, in the model's class colours; the slider changes the overlay's opacity and the legend
    lists the classes present, hides and shows them."""
    discs = tmp_path / "discs.png"
    bright = {"discs.png": _discs(discs)}
    scan = sorted((lesion_scans / "images").glob("*.png"))[0]
    bright[scan.name] = np.asarray(Image.open(scan).convert("RGB"), dtype=np.float64).mean(axis=2) / 255 > 0.5
    state = json.loads((segmentation_run / "bundle.json").read_text())["state"]
    colours, labels = state["colours"], state["labels"]
    with server_process([f"lesions={segmentation_run}", "--port", "0"], prelude=BRIGHT_IS_LESION) as (_, url):
        page = browser.new_page(viewport={"width": 1100, "height": 1100})
        page.set_default_timeout(60_000)
        outside, problems = offline(page), watched(page)
        page.goto(f"{url}/ui")
        page.click("nav button[data-model=lesions]")
        page.set_input_files("#file", [str(discs), str(scan)])
        page.click("#predict")
        canvases = page.locator("#result canvas.mask")
        expect(canvases).to_have_count(2, timeout=60_000)
        expect(page.locator("#result img.masked")).to_have_count(2)
        for index, (name, expected) in enumerate(bright.items()):
            canvas = canvases.nth(index)
            assert canvas.get_attribute("aria-label") == f"classes of {name}"
            assert (int(canvas.get_attribute("width")), int(canvas.get_attribute("height"))) == expected.shape[::-1]
            drawn = canvas.evaluate("""canvas => {
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                const colours = new Set(), alpha = [];
                for (let i = 0; i < data.length; i += 4) {
                    alpha.push(data[i + 3] ? 1 : 0);
                    if (data[i + 3]) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]},${data[i + 3]}`);
                }
                return {alpha: alpha.join(''), colours: [...colours]};
            }""")
            # the lesion class painted opaque exactly where the image is bright; the background starts hidden
            assert drawn["alpha"] == "".join("1" if b else "0" for b in expected.ravel()), name
            assert drawn["colours"] == [",".join(map(str, [*colours[1], 255]))]
        assert page.evaluate("document.querySelector('#result img.masked').naturalWidth") == 160

        slider = page.locator("#opacity")
        assert (slider.get_attribute("min"), slider.get_attribute("max"), slider.input_value()) == ("0", "100", "50")
        first = canvases.first
        assert first.evaluate("c => getComputedStyle(c).opacity") == "0.5"
        expect(page.locator("#opacity-value")).to_have_text("50%")
        screenshot(page, "ui-segmentation")
        slider.fill("80")
        expect(page.locator("#opacity-value")).to_have_text("80%")
        assert canvases.evaluate_all("cs => cs.map(c => getComputedStyle(c).opacity)") == ["0.8", "0.8"]
        slider.fill("0")
        assert first.evaluate("c => getComputedStyle(c).opacity") == "0"
        slider.fill("50")

        legend = page.locator("#result .mask-legend").first
        rows = legend.locator("tr[data-label]")
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.label)") == labels  # both classes are present
        swatches = rows.locator(".swatch").evaluate_all("s => s.map(e => getComputedStyle(e).backgroundColor)")
        assert swatches == [f"rgb({r}, {g}, {b})" for r, g, b in colours]
        share = bright["discs.png"].mean()
        assert rows.nth(1).locator("td").nth(2).text_content() == f"{100 * share:.1f}%"
        assert rows.nth(0).locator("td").nth(2).text_content() == f"{100 * (1 - share):.1f}%"
        lesion, background = legend.locator("input[data-class=lesion]"), legend.locator("input[data-class=background]")
        assert lesion.is_checked() and not background.is_checked()
        lesion.uncheck()
        expect(first).to_have_attribute("data-painted", "0")
        background.check()
        expect(first).to_have_attribute("data-painted", str(int((~bright["discs.png"]).sum())))
        expect(canvases.nth(1)).to_have_attribute("data-shown", "lesion")  # each image has its own legend
        assert not outside, outside
        assert not problems, problems


def test_recommendations_for_a_user_and_for_new_items(browser, server_process, recommendation_run):
    """A recommender's form: a user picked from the model's most active users gets a top-10 list without
    what they have seen; a new user from two titles picked as chips gets a list without those two; a
    row's "why?" shows the explanation under it; an unknown item shows the server's message and hint."""
    state = json.loads((recommendation_run / "bundle.json").read_text())["state"]
    with server_process([f"shop={recommendation_run}", "--port", "0"]) as (_, url):
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        page.set_default_timeout(60_000)
        outside, problems = offline(page), watched(page)
        page.goto(f"{url}/ui")
        page.click("nav button[data-model=shop]")
        expect(page.locator("#mode-user")).to_be_checked()
        users = page.locator("#user-choices option")
        assert users.count() == len(state["users"])  # fewer than the 2,000 offered
        assert re.fullmatch(r"\d+ items", users.first.get_attribute("label"))
        k, seen_box = page.locator("#option-k"), page.locator("#option-exclude_seen")
        assert (k.get_attribute("type"), k.input_value()) == ("number", "10")
        assert seen_box.get_attribute("type") == "checkbox" and seen_box.is_checked()

        user = users.nth(2).get_attribute("value")
        page.fill("#user", user)
        with page.expect_request(lambda request: request.url.endswith("/v1/models/shop/predict")) as sent:
            page.click("#predict")
        assert json.loads(sent.value.post_data) == {"inputs": [{"user": user}], "options": {}}
        rows = page.locator("#result li.rec")
        expect(rows).to_have_count(10, timeout=60_000)
        assert all(title.strip() for title in rows.locator(".title").all_inner_texts())
        listed = rows.evaluate_all("rows => rows.map(r => r.dataset.item)")
        seen = {state["items"][i] for i in state["histories"][state["users"].index(user)]}
        assert listed and not seen & set(listed), "a known user's list leaves out what they have seen"
        assert rows.first.locator(".item-id").inner_text() == f"#{listed[0]}"
        assert page.locator("#result .badge.fallback").count() == 0

        page.check("#mode-items")
        expect(page.locator("#user")).to_be_hidden()
        titles = page.locator("#item-choices option").evaluate_all("options => options.map(o => o.value)")
        for title in titles[:3]:
            page.fill("#item-search", title)  # as when a title is picked from the list
        chips = page.locator("#chips .chip")
        expect(chips).to_have_count(3)
        page.click(f"#chips button[aria-label='remove {titles[2]}']")
        expect(chips).to_have_count(2)
        picked = chips.evaluate_all("chips => chips.map(c => c.dataset.item)")
        assert [state["titles"][state["items"].index(item)] for item in picked] == titles[:2]
        with page.expect_request(lambda request: request.url.endswith("/v1/models/shop/predict")) as sent:
            page.click("#predict")
        assert json.loads(sent.value.post_data)["inputs"] == [{"items": picked}]
        expect(page.locator("#result .list-head .hint")).to_have_text(f"items={','.join(picked)}", timeout=60_000)
        expect(rows).to_have_count(10)
        listed = rows.evaluate_all("rows => rows.map(r => r.dataset.item)")
        assert not set(picked) & set(listed), "the items a new user chose are not recommended back"

        first = rows.first
        with page.expect_request(lambda request: request.url.endswith("/v1/models/shop/explain")) as asked:
            first.locator("button.why").click()
        assert json.loads(asked.value.post_data) == {"inputs": [{"items": picked, "item": listed[0]}],
                                                     "method": "similarity"}
        figure = first.locator(".why-answer img")
        expect(figure).to_have_attribute("src", re.compile(r"^data:image/png;base64,iVBOR"), timeout=60_000)
        assert figure.evaluate("img => img.naturalWidth") > 0
        title = first.locator(".title").inner_text()
        expect(first.locator(".why-answer .summary")).to_contain_text(f"{title}: because of")
        screenshot(page, "ui-recommendation")
        first.locator("button.why").click()  # folds the explanation away
        expect(first.locator(".why-answer img")).to_have_count(0)

        page.check("#mode-user")
        page.fill("#user", "nobody-we-know")
        page.click("#predict")
        expect(page.locator("#result .badge.fallback")).to_have_text("fallback: most popular items", timeout=60_000)
        expect(page.locator("#result ul.notes")).to_contain_text("not one the model knows")

        assert not problems, problems

        page.check("#mode-similar")
        page.fill("#similar", "no such film")
        page.click("#predict")
        expect(page.locator("#error")).to_contain_text("similar=no such film is not an item of the catalogue",
                                                       timeout=60_000)
        expect(page.locator("#result .hint")).not_to_be_empty()
        assert not outside, outside
        assert problems == ["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]


def test_table_rows_scored_in_one_table_with_the_anomalies_highlighted(browser, server_process, anomaly_run,
                                                                       ticket_sales, tabular_run):
    orders = pd.read_parquet(ticket_sales).drop(columns=["is_anomaly", "anomaly_kind", "is_ok"]).head(10)
    orders = orders[orders.quantity <= 4].head(6).reset_index(drop=True)
    orders.loc[3, "quantity"] = 60  # a bulk buy
    orders.loc[3, "total"] = 60 * orders.loc[3, "price"]
    with server_process([f"sales={anomaly_run}", f"houses={tabular_run}", "--port", "0"]) as (_, url):
        page = browser.new_page()
        page.set_default_timeout(60_000)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{url}/ui")

        page.click("nav button[data-model=sales]")
        assert page.get_attribute("#table", "placeholder").startswith("timestamp,event_id,venue,section,price")
        page.fill("#table", orders.to_csv(index=False))
        page.click("#predict")
        rows = page.locator("#result table.rows tbody tr")
        expect(rows).to_have_count(6, timeout=60_000)
        headers = page.locator("#result table.rows th").all_inner_texts()
        assert headers[:4] == ["row", "anomaly score", "is anomaly", "top features"], headers
        assert "flagged" in (rows.nth(3).get_attribute("class") or "")
        assert rows.nth(3).locator("td").nth(3).inner_text().split(";")[0] in ("quantity", "total")
        widths = [float(rows.nth(i).locator(".fill").get_attribute("style").split(":")[1].strip(" %;"))
                  for i in range(6)]
        assert max(widths) == widths[3] == 100.0, widths
        expect(page.locator("#result .hint").first).to_contain_text("6 rows, ")

        page.click("nav button[data-model=houses]")
        page.fill("#table", "house,area,rooms,district,sold\nX1,120,4,centre,2025-06-01\nX2,40,1,north,2025-06-02\n")
        page.click("#predict")
        rows = page.locator("#result table.rows tbody tr")
        expect(rows).to_have_count(2, timeout=60_000)
        prices = [float(rows.nth(i).locator("td").nth(page.locator("#result table.rows th").all_inner_texts()
                                                       .index("prediction")).inner_text().replace(",", ""))
                  for i in range(2)]
        assert prices[0] > prices[1], prices  # a large central house costs more than a small northern one
        assert not errors, errors
