"""The web app in a real browser: Debian's headless Chromium driven by Selenium, as a user would use
it (upload, train, sample, draw a mask, harmonize), with every request the page makes checked to stay
on this machine. `SINGAN_APP_SCREENSHOTS=DIR` also paints, exports, and saves a screenshot of each
tab there (the README's pictures: docs/images)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from conftest import DEMO_IMAGE

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
                allow_module_level=True)
pytest.importorskip("gradio")
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SCREENSHOTS = os.environ.get("SINGAN_APP_SCREENSHOTS")
# The screenshots show the quick preset (a model worth looking at, 3-6 min); the check itself, tiny.
PRESET, SCALES = ("quick", 5) if SCREENSHOTS else ("tiny", 2)
TRAIN_TIMEOUT = 1800 if SCREENSHOTS else 120
NETWORK_SCHEMES = ("http", "https", "ws", "wss", "ftp")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from singan_tf.app.server import serve

    port = free_port()
    page = serve(tmp_path_factory.mktemp("browser") / "models", "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    page.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float = 60, what: str = "") -> object:
    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: condition(d), what)


def _element(driver, selector: str):
    """The first element matching `selector`, once the page has rendered it."""
    return _wait(driver, lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, selector)), None), what=selector)


def _tab(driver, title: str) -> None:
    button = _wait(driver, lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, "button[role=tab]")
                                           if b.text.strip() == title), None), what=f"tab {title}")
    button.click()
    time.sleep(0.5)


def _images(driver, elem_id: str) -> list:
    return [i for i in driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} img") if i.get_attribute("src")]


def _shoot(driver, name: str) -> None:
    if SCREENSHOTS:
        time.sleep(1)
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1280, min(max(height + 40, 700), 2400))
        driver.save_screenshot(str(Path(SCREENSHOTS) / f"app-{name}.png"))
        driver.set_window_size(1280, 1000)


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _draw_stroke(driver, elem_id: str) -> None:
    canvas = _element(driver, f"#{elem_id} canvas")
    chain = ActionChains(driver).move_to_element_with_offset(canvas, -20, -10).click_and_hold()
    for _ in range(8):
        chain = chain.move_by_offset(6, 3)
    chain.release().perform()


def test_train_sample_and_harmonize_in_the_browser(url, browser, tmp_path):
    upload = tmp_path / "balloons.png"
    shutil.copyfile(DEMO_IMAGE, upload)
    browser.get(url)
    _element(browser, "#upload input[type=file]").send_keys(str(upload))
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#model-name textarea, #model-name input")
          .get_attribute("value") == "balloons", what="the model name from the upload")
    next(b for b in browser.find_elements(By.CSS_SELECTOR, "#preset label") if b.text.strip() == PRESET).click()
    browser.find_element(By.ID, "train").click()
    status = browser.find_element(By.CSS_SELECTOR, "#train-status textarea")
    _wait(browser, lambda d: status.get_attribute("value").startswith(f"done, {SCALES} scales"), TRAIN_TIMEOUT,
          "training to finish")
    assert len(_images(browser, "previews")) == SCALES
    _shoot(browser, "train")

    _tab(browser, "Sample")
    browser.find_element(By.ID, "sample").click()
    _wait(browser, lambda d: len(_images(d, "samples")) >= 8, what="8 samples in the gallery")
    _shoot(browser, "sample")

    _tab(browser, "Harmonize / edit")
    naive = np.asarray(Image.open(tmp_path / "balloons.png").convert("RGB").resize((128, 96))).copy()
    naive[30:60, 40:80] = [240, 30, 30]
    Image.fromarray(naive).save(tmp_path / "naive.png")
    _element(browser, "#naive input[type=file]").send_keys(str(tmp_path / "naive.png"))
    time.sleep(2)
    _draw_stroke(browser, "naive")
    browser.find_element(By.ID, "harmonize").click()
    _wait(browser, lambda d: len(_images(d, "harmonized")) >= SCALES - 1, 120, "a result per injection scale")
    _shoot(browser, "harmonize")

    if SCREENSHOTS:
        _tab(browser, "Paint")
        time.sleep(2)
        _draw_stroke(browser, "canvas")
        browser.find_element(By.ID, "paint").click()
        _wait(browser, lambda d: len(_images(d, "paintings")) >= SCALES - 1, 120, "paintings")
        _shoot(browser, "paint")
        _tab(browser, "Export")
        browser.find_element(By.ID, "export").click()
        _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#exports a")) >= 3, 300, "the downloads")
        _shoot(browser, "export")

    # Everything that went over a network went to the app (chrome://, data: and blob: never leave the browser).
    requested = [urlparse(u) for u in _requested_urls(browser)]
    assert any(u.netloc == urlparse(url).netloc for u in requested)
    foreign = [u.geturl() for u in requested if u.scheme in NETWORK_SCHEMES and u.netloc != urlparse(url).netloc]
    assert not foreign, foreign
