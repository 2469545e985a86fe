"""Attacks on the throttles (issue 17): a spoofed X-Forwarded-For, many workers, the site's own search and
favourites, and sessions that an anonymous POST could grow."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from catalog.models import Movie
from moviesite.tests.servers import on_this_test_database
from moviesite.tests.test_hardening_database import Server
from moviesite.throttling import hit

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_a_minute(monkeypatch, frozen_throttle_clock):
    # DRF reads the rates once, into the class; the setting alone would not reach it.
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute"})


def test_a_rotating_x_forwarded_for_does_not_escape_the_api_throttle(three_a_minute):
    api = APIClient()
    statuses = [api.get("/api/genres/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]


def test_behind_one_proxy_the_address_it_saw_is_the_client_and_what_the_client_wrote_is_ignored(
    three_a_minute, settings
):
    settings.NUM_PROXIES = 1
    api = APIClient()
    # The client writes any prefix it likes; our proxy appends the address it saw (the last entry).
    spoofed = [api.get("/api/genres/", HTTP_X_FORWARDED_FOR=f"x{n}, 203.0.113.7").status_code for n in range(4)]
    assert spoofed == [200, 200, 200, 429]
    assert api.get("/api/genres/", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200  # someone else


def test_the_sites_search_is_throttled_with_a_friendly_page(client, settings, frozen_throttle_clock):
    settings.SITE_THROTTLE_RATES = {"search": "3/minute", "favourite": "3/minute"}
    statuses = [client.get("/", {"q": f"war {n}", "mode": "keyword"}).status_code for n in range(3)]
    assert statuses == [200, 200, 200]
    response = client.get("/", {"q": "war", "mode": "keyword"}, HTTP_X_FORWARDED_FOR="10.1.1.1")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    page = response.content.decode()
    assert "Slow down a little" in page and "Please try again in" in page
    assert client.get("/").status_code == 200  # the landing page itself is not a search


def test_favourites_are_throttled_in_json_for_scripts_and_a_page_for_browsers(client, settings, frozen_throttle_clock):
    settings.SITE_THROTTLE_RATES = {"search": "3/minute", "favourite": "3/minute"}
    film = Movie.objects.visible().first()
    url = f"/movies/{film.pk}/favourite/"
    for _ in range(3):
        assert client.post(url, HTTP_ACCEPT="application/json").status_code == 200
    scripted = client.post(url, HTTP_ACCEPT="application/json")
    assert scripted.status_code == 429 and "try again" in scripted.json()["detail"]
    assert client.post(url, HTTP_ACCEPT="text/html").status_code == 429


def test_anonymous_posts_do_not_grow_a_session_table(client):
    film = Movie.objects.visible().first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_session")
        before = cursor.fetchone()[0]
        for _ in range(20):
            client.post(f"/movies/{film.pk}/favourite/", HTTP_ACCEPT="application/json")
        cursor.execute("SELECT count(*) FROM django_session")
        assert cursor.fetchone()[0] == before
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies"


def test_a_count_is_one_atomic_upsert_per_request_and_windows_expire():
    now = 1_000_000.0
    assert hit("probe", 60, now=now) == (1, 20)  # window 999,960..1,000,020
    assert hit("probe", 60, now=now + 1) == (2, 19)
    assert hit("probe", 60, now=now + 60)[0] == 1  # the next window starts afresh
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM moviesite_throttlecount WHERE key = 'probe'")
        assert cursor.fetchone()[0] == 1  # the finished window was deleted
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'moviesite_throttlecount'")
        assert cursor.fetchone()[0] == "u"  # UNLOGGED


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_share_one_count_whatever_x_forwarded_for_says():
    env = on_this_test_database(
        "serves this run's test database from the embedded server", EMBEDDING_BACKEND="fake", API_ANON_RATE="10/minute"
    )
    # Start both at the beginning of a minute's window, so the ten requests fall in one window.
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    servers = [Server(env), Server(env)]  # each has already spent one request checking it is up
    try:
        statuses = []
        for n in range(16):
            request = urllib.request.Request(
                f"{servers[n % 2].url}/api/genres/", headers={"X-Forwarded-For": f"198.51.100.{n}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        assert statuses.count(200) == 8, statuses  # 10 in all, 2 of them spent by the start-up checks
        assert statuses[8:] == [429] * 8
    finally:
        for server in servers:
            server.stop()
