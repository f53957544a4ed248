"""The pages in a real headless Chromium against a real gunicorn on the test PostgreSQL."""

import re
import shutil
import uuid
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import alert_is_present
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.pages.conftest import GUILD, png
from tests.reliability.conftest import stack_env
from tests.servers import Gunicorn

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Without these flags Chromium reaches for Google's hosts, which this network refuses.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,1000",
)
GAME_PAGE = re.compile(r"/games/([0-9a-f-]{36})$")


@pytest.fixture
def server(database, redis_prefix, tmp_path):
    """gunicorn wsgi:app on a free port, on the test database, as in production."""
    gunicorn = Gunicorn(stack_env(database, redis_prefix), workers=2, log_dir=tmp_path).start()
    yield gunicorn
    gunicorn.stop()


@pytest.fixture
def browser(tmp_path):
    """Debian's Chromium through its chromedriver; nothing is downloaded."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).exists():
            pytest.fail(f"{binary} is missing: `make test` installs chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def _wait(driver, condition, what: str, timeout: float = 10):
    return WebDriverWait(driver, timeout).until(lambda d: condition(d), message=what)


def _images(driver) -> list[dict]:
    """Every <img> of the page: its src as written, and whether it decoded."""
    return driver.execute_script(
        "return [...document.images].map(i => ({src: i.getAttribute('src'),"
        " loaded: i.complete && i.naturalWidth > 0}))"
    )


def _log_in(driver, server, token: str) -> None:
    driver.get(server.url + "/games")
    _wait(driver, lambda d: d.current_url.startswith(server.url + "/login"), "login page")
    driver.find_element(By.NAME, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    _wait(driver, lambda d: d.current_url == server.url + "/games", "game list after login")


def _schedule_game(driver, server, thumbnail: Path) -> str:
    driver.find_element(By.LINK_TEXT, "New game").click()
    _wait(driver, lambda d: d.current_url.endswith("/games/new"), "new game form")
    Select(driver.find_element(By.NAME, "guild_id")).select_by_value(GUILD)
    driver.find_element(By.NAME, "title").send_keys("Catan in the browser")
    # Typing into datetime-local depends on the browser's locale; set the value it submits.
    when = driver.find_element(By.NAME, "scheduled_at")
    driver.execute_script("arguments[0].value = '2030-05-01T19:00'", when)
    Select(driver.find_element(By.NAME, "timezone")).select_by_value("Europe/Paris")
    driver.find_element(By.NAME, "thumbnail").send_keys(str(thumbnail))
    driver.find_element(By.ID, "save").click()
    _wait(driver, lambda d: GAME_PAGE.search(d.current_url), "details page after create")
    return GAME_PAGE.search(driver.current_url).group(1)


def test_log_in_schedule_with_a_thumbnail_edit_and_log_out(browser, server, database, tmp_path):
    token = database.create_token("browser-host", GUILD)
    thumbnail = tmp_path / "thumbnail.png"
    thumbnail.write_bytes(png((30, 140, 200), (64, 64)))
    _log_in(browser, server, token)
    game_id = _schedule_game(browser, server, thumbnail)

    thumbnail_id = database.scalar(
        "SELECT thumbnail_id FROM game_sessions WHERE id = :id", id=uuid.UUID(game_id)
    )
    assert thumbnail_id is not None
    _wait(browser, lambda d: all(i["loaded"] for i in _images(d)), "thumbnail decoded")
    assert _images(browser) == [{"src": f"/api/v1/public/images/{thumbnail_id}", "loaded": True}]
    assert "17:00 UTC" in browser.find_element(By.CSS_SELECTOR, "time").text
    browser.save_screenshot(str(tmp_path / "details.png"))

    browser.find_element(By.ID, "edit").click()
    _wait(browser, lambda d: d.current_url.endswith("/edit"), "edit form")
    browser.find_element(By.NAME, "remove_thumbnail").click()
    browser.find_element(By.ID, "save").click()
    _wait(browser, lambda d: d.current_url == f"{server.url}/games/{game_id}", "details again")
    assert _images(browser) == []
    assert "Game saved." in browser.page_source

    browser.find_element(By.ID, "logout").click()
    _wait(browser, lambda d: d.current_url == server.url + "/login", "login page after logout")
    browser.get(server.url + "/games")
    _wait(browser, lambda d: d.current_url.startswith(server.url + "/login"), "session ended")


def test_list_shows_thumbnails_and_guild_names_details_the_hosts_name_and_delete_asks_first(
    browser, server, database, tmp_path
):
    token = database.create_token("browser-host", GUILD)
    database.execute("UPDATE guilds SET name = 'Friday Board Gamers'")
    database.execute("UPDATE users SET display_name = 'Ann Host'")
    thumbnail = tmp_path / "thumbnail.png"
    thumbnail.write_bytes(png((200, 90, 30), (64, 64)))
    _log_in(browser, server, token)
    game_id = _schedule_game(browser, server, thumbnail)
    assert browser.find_element(By.ID, "host-name").text == "Ann Host"
    assert browser.find_element(By.ID, "guild-name").text == "Friday Board Gamers"

    browser.find_element(By.LINK_TEXT, "Games").click()
    _wait(browser, lambda d: d.current_url == server.url + "/games", "game list")
    _wait(browser, lambda d: all(i["loaded"] for i in _images(d)), "list thumbnail decoded")
    thumbnail_id = database.scalar(
        "SELECT thumbnail_id FROM game_sessions WHERE id = :id", id=uuid.UUID(game_id)
    )
    assert _images(browser) == [{"src": f"/api/v1/public/images/{thumbnail_id}", "loaded": True}]
    assert browser.find_element(By.CSS_SELECTOR, ".games .guild-name").text == (
        "Friday Board Gamers"
    )

    # The confirmation comes from pages.js, the only script the CSP lets run.
    browser.get(f"{server.url}/games/{game_id}/edit")
    browser.find_element(By.ID, "delete").click()
    _wait(browser, alert_is_present(), "confirmation dialog")
    assert browser.switch_to.alert.text == "Delete this game?"
    browser.switch_to.alert.dismiss()
    assert browser.current_url.endswith("/edit")
    assert database.scalar("SELECT count(*) FROM game_sessions") == 1
    browser.find_element(By.ID, "delete").click()
    _wait(browser, alert_is_present(), "confirmation dialog again")
    browser.switch_to.alert.accept()
    _wait(browser, lambda d: d.current_url == server.url + "/games", "list after delete")
    assert "Game deleted." in browser.page_source
    assert database.scalar("SELECT count(*) FROM game_sessions") == 0
