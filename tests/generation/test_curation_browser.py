"""Curation as staff do it: headless Chromium logs into the admin, plays a generated
track in the review queue and approves it."""

from __future__ import annotations

import shutil
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from catalog.models import Track
from generation.models import GeneratedTrack, ReviewStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "curating is an art 7"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)


@pytest.fixture
def browser(tmp_path):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Debian's chromium and chromium-driver are missing (bin/setup --dev)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver))
    yield session
    session.quit()


@pytest.fixture
def pending_track(make_user):
    call_command("import_corpus", "--collections", "bach", "--limit", "1")
    owner = make_user("composer")
    track = Track.objects.get()
    Track.objects.filter(pk=track.pk).update(
        origin="generated", is_public=False, ai_generated=True, owner=owner
    )
    return GeneratedTrack.objects.create(
        track=track,
        requested_by=owner,
        model_version="cvae-test",
        seed=1,
        condition=track.style_vector,
        novelty_shared_run=3,
        classifier_style="chorale",
    )


def wait_for(predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out in the browser")


def test_staff_listen_to_and_approve_a_generated_track(browser, live_server, pending_track):
    staff = get_user_model().objects.create_superuser("curator", "c@example.org", PASSWORD)
    queue = f"{live_server.url}/admin/generation/generatedtrack/"
    browser.get(f"{live_server.url}/admin/login/?next=/admin/generation/generatedtrack/")
    browser.find_element(By.NAME, "username").send_keys("curator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(lambda: browser.current_url.startswith(queue))
    assert "pending" in browser.page_source

    browser.get(f"{queue}{pending_track.pk}/change/")
    audio = browser.find_element(By.TAG_NAME, "audio")
    browser.execute_script("arguments[0].preload = 'auto'; arguments[0].load();", audio)
    state = wait_for(
        lambda: browser.execute_script(
            "const a = arguments[0]; return a.error ? -a.error.code : a.readyState;", audio
        )
    )
    assert state >= 1, f"the audio element failed to load (MediaError {-state})"
    assert browser.execute_script("return arguments[0].duration", audio) > 1
    assert browser.find_element(By.CSS_SELECTOR, "img[alt='Piano roll']")

    browser.get(queue)
    browser.find_element(
        By.CSS_SELECTOR, f"input[name=_selected_action][value='{pending_track.pk}']"
    ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("approve")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    wait_for(lambda: "Approved 1" in browser.page_source)
    pending_track.refresh_from_db()
    assert pending_track.review_status == ReviewStatus.APPROVED
    assert pending_track.reviewed_by == staff
