"""The mailed link travels through a real SMTP server (aiosmtpd); one reset link used concurrently succeeds once."""

from __future__ import annotations

import re
import threading

import requests

from app.mail.transports import transport_for
from app.services.mail_delivery import deliver_due
from tests.accounts.conftest import CSRF, PASSWORD, link_in, mails
from tests.factories import DEFAULT_PASSWORD
from tests.mail.conftest import smtp  # noqa: F401 - the fixture
from tests.mail.smtp_server import SmtpServer


def test_sign_up_mail_arrives_over_smtp_and_its_link_verifies(app, client, sign_up, post, smtp: SmtpServer):  # noqa: F811
    assert sign_up("smtp.person@example.com").status_code == 302
    with app.app_context():
        assert deliver_due(transport_for(app.config))["sent"] == 1
    received = smtp.inbox.wait_for(1)
    assert received[0].rcpt_tos == ["smtp.person@example.com"]
    text = received[0].message.get_body(("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:\d+(/verify-email\?token=[A-Za-z0-9_-]{43})", text).group(1)
    assert post("/verify-email", page=link, token=link.split("token=")[1]).status_code == 302
    assert post("/login", login="smtp.person@example.com", password=PASSWORD).status_code == 302


def test_a_down_smtp_server_still_answers_check_your_mail(app, sign_up, smtp: SmtpServer):  # noqa: F811
    smtp.stop()
    assert sign_up("later@example.com").status_code == 302
    with app.app_context():
        assert deliver_due(transport_for(app.config))["deferred"] == 1
    assert [m.template for m in mails(app, "later@example.com")] == ["verify_email"]  # kept for the retry


def test_one_reset_link_used_concurrently_succeeds_once(app, make, live_server):
    make.user("race@example.com")
    browser = requests.Session()
    page = browser.get(f"{live_server}/forgot-password").text
    browser.post(f"{live_server}/forgot-password",
                 data={"csrf_token": CSRF.search(page).group(1), "email": "race@example.com"})
    link = link_in(mails(app, "race@example.com", "password_reset")[0])
    sessions, forms = [], []
    for _ in range(8):
        session = requests.Session()
        csrf = CSRF.search(session.get(live_server + link).text).group(1)
        sessions.append(session)
        forms.append({"csrf_token": csrf, "token": link.split("token=")[1],
                      "new_password": f"{DEFAULT_PASSWORD} and more", "confirm_password": f"{DEFAULT_PASSWORD} and more"})
    start, statuses = threading.Barrier(len(sessions)), []

    def use(session: requests.Session, form: dict[str, str]) -> None:
        start.wait()
        statuses.append(session.post(f"{live_server}/reset-password", data=form, allow_redirects=False).status_code)

    threads = [threading.Thread(target=use, args=pair) for pair in zip(sessions, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [302] + [400] * (len(sessions) - 1)
