"""Credentials in a target URL: what ``masked_target`` hides, and how a masked target sent back
keeps the stored secrets (``restore_masked_target``)."""

from __future__ import annotations

import pytest

from monitors.probes import REGISTRY
from monitors.secrets import (
    MASK,
    SECRET_QUERY_NAMES,
    masked_properties,
    masked_target,
    masked_target_problem,
    restore_masked_target,
)

M = MASK


@pytest.mark.parametrize(
    ("target", "masked"),
    [
        ("https://user:pass@example.net/x", f"https://{M}@example.net/x"),
        ("https://t0ken@example.net", f"https://{M}@example.net"),
        ("http://u:p@ss@[::1]:8080/", f"http://{M}@[::1]:8080/"),  # the last @ ends it
        (
            "https://example.net/s?page=2&token=abc&Api-Key=k&ACCESS_TOKEN=z&q=token",
            f"https://example.net/s?page=2&token={M}&Api-Key={M}&ACCESS_TOKEN={M}&q=token",
        ),
        (
            "https://x/?key=1&secret=2&password=3&passwd=4&pwd=5&api_key=6&apikey=7&auth=8"
            "&signature=9&sig=10",
            f"https://x/?key={M}&secret={M}&password={M}&passwd={M}&pwd={M}&api_key={M}"
            f"&apikey={M}&auth={M}&signature={M}&sig={M}",
        ),
        ("https://x/?next=/a?b&sig=zz", f"https://x/?next=/a?b&sig={M}"),
        ("https://x/?token=a?b=c", f"https://x/?token={M}"),  # a ? inside a value is the value
        ("https://x/#access_token=q&state=1", f"https://x/#access_token={M}&state=1"),
        ("https://x/#/route?token=q", f"https://x/#/route?token={M}"),
        ("https://x/?token=&key", "https://x/?token=&key"),  # nothing to hide
        ("https://x/p?tokens=1&my_key=2", "https://x/p?tokens=1&my_key=2"),  # other names
        ("https://example.net/health", "https://example.net/health"),
        ("https://x/user@host/path", "https://x/user@host/path"),  # @ in the path: no user info
        ("db.lan:5432", "db.lan:5432"),
        ("192.0.2.1", "192.0.2.1"),
        ("example.net", "example.net"),
    ],
)
def test_user_info_and_secret_parameters_are_masked_and_nothing_else(target, masked):
    assert masked_target(target) == masked


def test_the_masked_names_are_the_documented_ones():
    assert {
        "token", "key", "secret", "password", "passwd", "pwd", "api_key", "apikey",
        "access_token", "auth", "signature", "sig",
    } == SECRET_QUERY_NAMES  # fmt: skip


STORED = "https://bot:pa55@api.example.net/v1/send?chat=7&token=abc&token=def#sig=s1"


def test_the_masked_target_sent_back_keeps_the_stored_one():
    assert restore_masked_target(masked_target(STORED), STORED) == STORED


def test_a_changed_target_keeps_each_masked_part_by_position_and_name():
    submitted = f"https://{M}@api.example.net/v2/send?chat=8&token=new&token={M}#sig={M}"

    assert restore_masked_target(submitted, STORED) == (
        "https://bot:pa55@api.example.net/v2/send?chat=8&token=new&token=def#sig=s1"
    )


def test_a_target_without_masks_is_taken_as_sent():
    assert restore_masked_target("https://other.example/", STORED) == "https://other.example/"


def test_a_mask_with_nothing_stored_behind_it_stays_and_is_refused():
    submitted = f"https://{M}@new.example/?key={M}"
    restored = restore_masked_target(submitted, "https://new.example/?page=1")

    assert restored == submitted
    assert masked_target_problem(restored) == (
        "target holds a masked secret: give it in full (export it as a user who may change "
        "monitors)"
    )
    assert masked_target_problem(STORED) is None


def test_the_http_body_is_a_secret_property_masked_like_headers():
    assert REGISTRY["http"].property("body").secret
    masked = masked_properties("http", {"body": "user=a&password=b", "method": "POST"})
    assert masked == {"body": M, "method": "POST"}
    assert (
        masked_properties("http", {"body": '{"password": "b"}'})["body"] == f'{{"password": "{M}"}}'
    )


def test_secret_properties_are_masked_but_keep_their_header_names():
    masked = masked_properties(
        "http",
        {"headers": '{"Authorization": "Bearer abc", "X-Trace": "1"}', "method": "POST"},
    )

    assert masked == {
        "headers": f'{{"Authorization": "{MASK}", "X-Trace": "{MASK}"}}',
        "method": "POST",
    }
    assert masked_properties("http", {"headers": "not json"}) == {"headers": MASK}
