"""Who sees and does what on the pages: the API's rules, persona by persona."""

from __future__ import annotations

import pytest
from django.test import Client

READ_PAGES = ["/", "/monitors", "/dashboard", "/results", "/manage", "/live/monitors"]


@pytest.fixture
def monitor(make_monitor):
    return make_monitor(name="web", properties={"headers": '{"Authorization": "Bearer s3cret"}'})


@pytest.mark.parametrize("path", READ_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")


def test_the_monitor_page_sends_anonymous_visitors_to_sign_in_and_back(anonymous, monitor):
    response = anonymous.get(f"/monitors/{monitor.id}")
    assert response["Location"] == f"/login?next=/monitors/{monitor.id}"


def test_a_live_fragment_sends_an_expired_session_to_sign_in_through_htmx(anonymous):
    response = anonymous.get(
        "/live/monitors", headers={"HX-Request": "true", "HX-Current-URL": "http://x/?q=web"}
    )
    assert response.status_code == 200
    assert response.content == b""
    assert response["HX-Redirect"] == "/login?next=/%3Fq%3Dweb"


@pytest.mark.usefixtures("public_read")
@pytest.mark.parametrize("path", READ_PAGES)
def test_public_read_opens_the_pages_to_anonymous_visitors(anonymous, path, monitor):
    assert anonymous.get(path).status_code == 200


@pytest.mark.usefixtures("public_read")
def test_public_read_shows_no_write_button_and_masks_secrets(anonymous, monitor):
    page = anonymous.get(f"/monitors/{monitor.id}").content.decode()
    assert "s3cret" not in page
    assert "••••••" in page
    assert f"/monitors/{monitor.id}/edit" not in page
    assert "New monitor" not in anonymous.get("/").content.decode()


@pytest.mark.usefixtures("public_read")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/monitors/new"),
        ("post", "/monitors/new"),
        ("get", "/monitors/{id}/edit"),
        ("post", "/monitors/{id}/delete"),
        ("post", "/monitors/test"),
        ("post", "/manage/import"),
        ("post", "/manage/delete-monitors"),
        ("post", "/manage/delete-results"),
    ],
)
def test_writes_still_need_a_signed_in_user_with_public_read(anonymous, monitor, method, path):
    response = getattr(anonymous, method)(path.format(id=monitor.id))
    assert response.status_code == 302
    assert response["Location"].startswith("/login")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/monitors/new"),
        ("post", "/monitors/new"),
        ("get", "/monitors/{id}/edit"),
        ("post", "/monitors/{id}/edit"),
        ("get", "/monitors/{id}/delete"),
        ("post", "/monitors/{id}/delete"),
        ("post", "/monitors/test"),
        ("post", "/manage/import"),
        ("get", "/manage/delete-monitors"),
        ("post", "/manage/delete-monitors"),
        ("get", "/manage/delete-results"),
        ("post", "/manage/delete-results"),
    ],
)
def test_viewers_may_not_write(viewer, monitor, method, path):
    response = getattr(viewer, method)(path.format(id=monitor.id))
    assert response.status_code == 403
    assert b"Not allowed" in response.content


def test_viewers_see_no_write_buttons(viewer, monitor):
    for path in ("/", f"/monitors/{monitor.id}", "/manage", "/dashboard"):
        page = viewer.get(path).content.decode()
        assert "/monitors/new" not in page, path
        assert f"/monitors/{monitor.id}/edit" not in page, path
        assert f"/monitors/{monitor.id}/delete" not in page, path
        assert "/manage/delete-monitors" not in page, path
        assert 'action="/manage/import"' not in page, path


def test_viewers_see_secrets_masked_and_editors_in_full(viewer, editor, monitor):
    assert "s3cret" not in viewer.get(f"/monitors/{monitor.id}").content.decode()
    assert "s3cret" in editor.get(f"/monitors/{monitor.id}").content.decode()


def test_editors_see_every_write_button(editor, monitor):
    detail = editor.get(f"/monitors/{monitor.id}").content.decode()
    assert f"/monitors/{monitor.id}/edit" in detail
    assert f"/monitors/{monitor.id}/delete" in detail
    manage = editor.get("/manage").content.decode()
    assert "/manage/delete-monitors" in manage
    assert "/manage/delete-results" in manage
    assert 'action="/manage/import"' in manage


def test_every_form_needs_the_csrf_token(editor_user, monitor):
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor_user)
    for path in (
        "/monitors/new",
        f"/monitors/{monitor.id}/edit",
        f"/monitors/{monitor.id}/delete",
        "/monitors/test",
        "/manage/import",
        "/manage/delete-monitors",
        "/manage/delete-results",
        "/logout",
    ):
        assert client.post(path, {"name": "x"}).status_code == 403, path
    assert client.get(f"/monitors/{monitor.id}").status_code == 200  # still there


def test_pages_carry_the_csrf_token_for_htmx_and_forms(editor):
    page = editor.get("/monitors/new").content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_sign_in_page_signs_in_and_goes_next(db, editor_user):
    client = Client()
    page = client.get("/login?next=/dashboard")
    assert page.status_code == 200
    assert b"sign_in_options" not in page.content  # the hook is a block, not text
    response = client.post(
        "/login",
        {"username": "editor", "password": "correct horse battery", "next": "/dashboard"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200


def test_a_wrong_password_is_said_on_the_sign_in_page(db, editor_user):
    response = Client().post("/login", {"username": "editor", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_sign_out_is_a_post_and_ends_the_session(editor):
    assert editor.get("/logout").status_code == 405
    response = editor.post("/logout")
    assert response.status_code == 302
    assert response["Location"] == "/login"
    assert editor.get("/").status_code == 302


def test_signed_in_users_are_not_shown_the_sign_in_form_again(editor):
    assert editor.get("/login")["Location"] == "/"


def test_the_about_page_is_open_and_says_who_is_signed_in(anonymous, editor):
    page = anonymous.get("/about").content.decode()
    assert "0.1.0" in page
    assert "Signed-in users only" in page
    assert "/api/docs/" in page
    page = editor.get("/about").content.decode()
    assert "<strong>editor</strong>" in page
    assert "✓ Create monitors" in page


def test_an_unknown_page_is_an_html_404_but_the_api_keeps_its_problems(editor):
    page = editor.get("/nowhere")
    assert page.status_code == 404
    assert b"Page not found" in page.content
    assert editor.get("/monitors/999999").status_code == 404
    api = editor.get("/api/nowhere")
    assert api.status_code == 404
    assert api["Content-Type"] == "application/problem+json"


def test_favicon_ico_points_at_the_icon_for_pages_without_one(anonymous):
    response = anonymous.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.svg"
