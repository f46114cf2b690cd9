"""The console in a real browser: Debian's ``chromium``, headless, driven by selenium through
``chromium-driver``. Skipped, with the reason, where they are not installed
(``scripts/install-test-deps`` installs them where it can: as root, with apt-get).

With ``HOTCONF_SCREENSHOTS=DIR`` the tests save the screenshots docs/console.md shows
(``HOTCONF_SCREENSHOTS=docs/images python3 -m pytest tests/service/test_console_browser.py``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf import LiveConfig
from hotconf.service.app import Service

from ..conftest import WAIT, config_text
from .test_service import ADMIN, SECRET, Running, write

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (scripts/install-test-deps installs "
    "them where it runs as root with apt-get)",
)

# no sandbox (containers run us as root), no GPU, and nothing that reaches the network
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
# resolved now: the tests work in their tmp_path
SCREENSHOTS = (
    Path(os.environ["HOTCONF_SCREENSHOTS"]).resolve()
    if os.environ.get("HOTCONF_SCREENSHOTS")
    else None
)
FEATURES = "features:\n  beta: true\n"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=DriverService(str(DRIVER)))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@contextlib.contextmanager
def console(service: Service, browser: WebDriver) -> Iterator[tuple[Running, LiveConfig]]:
    """Serve ``service`` for the browser; at the end the browser leaves (closing its event
    stream) and the service shuts down as on SIGTERM."""
    with Running(service) as server:
        try:
            yield server, server.ready()
        finally:
            browser.get("about:blank")
            errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            service.begin_shutdown()
    # the pages load nothing the policy refuses, and the script throws nothing
    assert not errors, errors


def until(browser: WebDriver, condition: Callable[[], object], what: str) -> None:
    WebDriverWait(browser, WAIT, poll_frequency=0.05).until(lambda _: condition(), message=what)


# Read in one script call: the page swaps its parts in place, so an element found in one
# call may be gone by the next.


def texts(browser: WebDriver, css: str) -> list[str]:
    found: list[str] = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".map(e => e.innerText.split(/\\s+/).filter(Boolean).join(' '))",
        css,
    )
    return found


def text(browser: WebDriver, css: str) -> str:
    return " ".join(texts(browser, css))


def cells(browser: WebDriver, row: str) -> list[str]:
    return texts(browser, f"{row} > th, {row} > td")


def focused(browser: WebDriver) -> str:
    described: str = browser.execute_script(
        "const e = document.activeElement;"
        "return e.id || e.getAttribute('href') || e.textContent.trim();"
    )
    return described


def shot(browser: WebDriver, name: str) -> None:
    """Save the whole page as docs/console.md's ``console-NAME.png`` (with HOTCONF_SCREENSHOTS)."""
    if not SCREENSHOTS:
        return
    folder = SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    height, chrome = browser.execute_script(
        "return [Math.ceil(document.body.getBoundingClientRect().height),"
        " window.outerHeight - window.innerHeight]"
    )
    browser.set_window_size(1280, min(max(int(height), 400), 1800) + int(chrome))
    try:
        browser.save_screenshot(str(folder / f"console-{name}.png"))
    finally:
        browser.set_window_size(1280, 900)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path: the config is ``config.yaml`` there, as in the screenshots."""
    monkeypatch.chdir(tmp_path)
    return Path("config.yaml")


def test_follows_edits_diffs_a_rejection_and_rolls_back(
    browser: WebDriver, here: Path, schema_file: Path
) -> None:
    config = here
    config.write_text(config_text(extra=f"  password: {SECRET}\n"))
    opener = functools.partial(hotconf.watch, config, schema_file, state_dir="state")
    with console(Service(opener, token=ADMIN), browser) as (server, live):

        def versions() -> list[str]:
            return [t.split()[0] for t in texts(browser, "table.timeline tbody th")]

        browser.get(server.url + "/console/versions")
        assert versions() == ["v1"]
        browser.execute_script("window.notReloaded = true")
        # an edit lands: its row appears in place, the page is not reloaded
        config.write_text(config_text(pool=50, extra=f"  password: {SECRET}\n{FEATURES}"))
        until(browser, lambda: versions() == ["v2", "v1"], "v2 in the timeline")
        assert browser.execute_script("return window.notReloaded") is True
        assert "v2 is live (changed: risky, 2 keys)." in text(browser, "#notice")
        row = cells(browser, "#v2")
        assert row[0] == "v2 served" and row[2:4] == ["risky", "2"] and row[5] == "no"
        assert row[1].endswith(" UTC") and row[4] == "config.yaml"  # the source
        shot(browser, "versions")

        browser.find_element(By.LINK_TEXT, "Diff v1 → v2").click()
        until(browser, lambda: text(browser, "h1") == "Diff v1 → v2", "the diff page")
        assert text(browser, "p.summary") == "risky 2 changes: 1 risky, 1 safe"
        # one row per key, highest level first; the level in words, and in colour
        assert [texts(browser, f"table.changes tbody tr:nth-child({n}) > *") for n in (1, 2)] == [
            ["db.pool_size", "risky", "changed", "5", "50", "changed by 10x or more"],
            ["features", "safe", "added", "absent", '{"beta": true}', "optional key added"],
        ]
        badges = browser.find_elements(By.CSS_SELECTOR, "table.changes tbody .level")
        assert [b.get_attribute("class") for b in badges] == [
            "level level-risky",
            "level level-safe",
        ]
        colours = {b.value_of_css_property("background-color") for b in badges}
        assert len(colours) == 2
        shot(browser, "diff")

        # a rejection arrives while the page is open
        browser.execute_script("window.notReloaded = true")
        config.write_text(config_text(pool=0, extra=f"  password: {SECRET}\n"))
        until(browser, lambda: text(browser, "#status .state") == "degraded", "degraded")
        assert "was rejected (1 problem)" in text(browser, "#notice")
        assert browser.execute_script("return window.notReloaded") is True
        browser.find_element(By.LINK_TEXT, "See the rejections.").click()
        until(browser, lambda: text(browser, "h1") == "Rejections", "the rejections page")
        problem = cells(browser, "table.problems tbody tr")
        assert problem == [
            f"{config.resolve()}:3",
            "/db/pool_size",
            "0 is less than the minimum of 1",
            "minimum",
        ]
        shot(browser, "rejections")

        # secret values: redacted, until the admin token is entered
        browser.get(server.url + "/")
        assert SECRET not in browser.page_source
        assert "db.password redacted secret" in text(browser, "table.config")
        shot(browser, "overview")
        browser.find_element(By.ID, "token-input").send_keys(ADMIN + Keys.ENTER)
        until(browser, lambda: SECRET in text(browser, "table.config"), "the secret shown")
        assert "you hold the admin token" in text(browser, "#access")
        assert browser.get_cookies() == []
        assert browser.execute_script("return document.cookie") == ""

        # roll back to v1: the impact report first, then the confirmation
        browser.get(server.url + "/console/versions")
        # the page first comes as a link's GET does (no header), then again with the token
        until(browser, lambda: "admin token" in text(browser, "#access"), "with the token")
        browser.find_element(By.LINK_TEXT, "Roll back to v1…").click()
        until(
            browser,
            lambda: "You hold the admin token." in text(browser, "form.confirm"),
            "the token",
        )
        assert text(browser, "h1") == "Roll back to v1"
        assert texts(browser, "table.changes tbody th") == ["db.pool_size", "features"]
        assert cells(browser, "table.changes tbody tr")[:5] == [
            "db.pool_size",
            "risky",
            "changed",
            "50",
            "5",
        ]
        shot(browser, "rollback")
        browser.find_element(By.CSS_SELECTOR, "form.confirm button[type=submit]").click()
        until(browser, lambda: live.version == 3, "the rollback")
        until(browser, lambda: "serving v3" in text(browser, "#status"), "v3 in the header")
        until(
            browser,
            lambda: "Rolled back: v3 now serves the content of v1." in text(browser, "#notice"),
            "the answer to the click",
        )
        info = live.current.info
        assert (info.restores, info.rolled_back_from, live.get("db.pool_size")) == (1, 2, 5)


def test_keyboard_token_webhooks_redeliver_and_docs(
    browser: WebDriver, here: Path, schema_file: Path
) -> None:
    from hotconf.webhooks.deliveries import RetryPolicy
    from hotconf.webhooks.manager import Subscriber, Webhooks, new_secret

    config = here
    config.write_text(config_text())
    # nothing listens on port 9, and one attempt is all: each delivery dies at once
    hook = Subscriber("http://127.0.0.1:9/hook", new_secret(), name="audit", allow_private=True)
    opener = functools.partial(
        hotconf.watch,
        config,
        schema_file,
        state_dir="state",
        webhooks=Webhooks([hook], retry=RetryPolicy(attempts=1)),
    )
    with console(Service(opener, token=ADMIN), browser) as (server, live):
        assert live.webhooks is not None
        webhooks = live.webhooks
        write(config, 6)

        def dead() -> list[Any]:
            return webhooks.deliveries("dead")

        until(browser, dead, "a dead delivery")

        browser.get(server.url + "/")
        tab = browser.switch_to.active_element
        order = []
        for _ in range(11):
            tab.send_keys(Keys.TAB)
            tab = browser.switch_to.active_element
            order.append(focused(browser))
        assert order == [
            "#main",  # the skip link first
            "/",
            "/console/versions",
            "/",
            "/console/versions",
            "/console/diff",
            "/console/rejections",
            "/console/webhooks",
            "/console/rollouts",
            "/docs",
            "token-input",
        ]
        tab.send_keys(ADMIN + Keys.TAB)
        assert focused(browser) == "Use token"
        browser.switch_to.active_element.send_keys(Keys.ENTER)
        until(browser, lambda: "you hold the admin token" in text(browser, "#access"), "admin")
        assert focused(browser) == "Use token"  # refreshing the page in place kept the focus
        assert browser.find_element(By.ID, "token-forget").is_displayed()
        skip = browser.find_element(By.CSS_SELECTOR, "a.skip")  # off screen until focused
        skip.send_keys(Keys.ENTER)
        until(browser, lambda: focused(browser) == "main", "the focus on the content")

        browser.get(server.url + "/console/webhooks")
        assert "audit" in text(browser, "table.subscribers")
        [delivery] = dead()
        found = cells(browser, "tr.delivery-dead")
        assert found[0] == str(delivery.id) and found[2:5] == ["audit", "dead (given up)", "1"]
        assert found[1].startswith(f"config.changed v{delivery.version} ")
        shot(browser, "webhooks")
        button = browser.find_element(By.CSS_SELECTOR, "tr.delivery-dead button")
        # "Redeliver" on screen; for a screen reader, which one
        assert button.get_attribute("textContent").split() == [
            "Redeliver",
            "delivery",
            str(delivery.id),
        ]
        button.send_keys(Keys.ENTER)
        until(
            browser,
            lambda: f"Delivery {delivery.id} is queued again." in text(browser, "#notice"),
            "the redelivery",
        )
        before = delivery.last_attempt_at
        assert before is not None

        def tried_again() -> bool:
            now = webhooks.delivery(delivery.id)
            return (
                now.status == "dead"
                and now.last_attempt_at is not None
                and now.last_attempt_at > before
            )

        until(browser, tried_again, "tried again, and dead again")

        browser.get(server.url + "/docs")
        titles = texts(browser, "article.operation h3")
        assert "GET /v1/config" in titles and "POST /v1/rollback" in titles
        assert "GET /openapi.json" in titles
        shot(browser, "docs")
