"""OpenID Connect Core §5.5.1.1 through the claims parameter: an essential acr is reached by the same step-up as
acr_values, and a request that cannot reach it fails back to the relying party (access_denied, or login_required
for prompt=none) instead of going on with a weaker sign-in."""

from __future__ import annotations

import json

import pyotp
import pytest

from app.assurance import ACR_MFA, ACR_PASSWORD, ACR_PHISHING_RESISTANT
from tests.flows import Browser, query_of, signed_in
from tests.mfa.conftest import password_only_session, second_step
from tests.mfa.relying_party import RelyingParty, authorize


def essential(*values: str, single: bool = False) -> str:
    acr = {"essential": True, "value": values[0]} if single else {"essential": True, "values": list(values)}
    return json.dumps({"id_token": {"acr": acr}})


def refusal(response) -> dict[str, str]:
    assert response.status_code == 302, response.text[:300]
    return query_of(response.headers["Location"])


@pytest.mark.parametrize("claims", [essential(ACR_MFA), essential(ACR_MFA, single=True),
                                    essential("urn:example:gold", ACR_MFA)])
def test_an_essential_acr_steps_up_with_the_second_factor_only(app, live_server, make, claims):
    browser, _, secret = password_only_session(app, make, "gold@example.com")
    rp = RelyingParty(live_server, make.client())
    url = rp.authorization_url(claims=claims)
    asked = browser.session.get(url, allow_redirects=False)
    assert asked.headers["Location"].startswith("/login/second-factor?")
    done = second_step(browser, asked, pyotp.TOTP(secret).now())
    claims_of = rp.id_token(authorize(browser, live_server + done.headers["Location"]).headers["Location"])
    assert claims_of["acr"] == ACR_MFA and claims_of["amr"] == ["pwd", "otp", "mfa"]


@pytest.mark.parametrize(("asked", "reported"), [((ACR_PASSWORD,), ACR_PASSWORD),
                                                 ((ACR_PASSWORD, ACR_MFA), ACR_MFA),
                                                 (("urn:example:gold", ACR_PASSWORD), ACR_PASSWORD)])
def test_the_id_token_acr_is_one_of_the_essential_values_asked_for(app, live_server, make, asked, reported):
    """§5.5.1.1: a sign-in stronger than what is asked is reported as the strongest requested value it reached;
    the amr still says how the person signed in."""
    browser, _, secret = password_only_session(app, make, "stronger@example.com")
    rp = RelyingParty(live_server, make.client())
    stepped = browser.session.get(rp.authorization_url(claims=essential(ACR_MFA)), allow_redirects=False)
    done = second_step(browser, stepped, pyotp.TOTP(secret).now())
    assert rp.id_token(authorize(browser, live_server + done.headers["Location"]).headers["Location"])["acr"] == ACR_MFA
    claims = rp.id_token(authorize(browser, rp.authorization_url(claims=essential(*asked))).headers["Location"])
    assert (claims["acr"], claims["amr"]) == (reported, ["pwd", "otp", "mfa"])
    voluntary = rp.id_token(authorize(browser, rp.authorization_url(acr_values=ACR_PASSWORD)).headers["Location"])
    assert voluntary["acr"] == ACR_MFA  # acr_values is voluntary: the level reached


def test_an_essential_acr_already_reached_answers_at_once(app, live_server, make):
    make.user("plain@example.com")
    rp = RelyingParty(live_server, make.client())
    browser = signed_in(live_server, "plain@example.com")
    claims = rp.id_token(authorize(browser, rp.authorization_url(claims=essential(ACR_PASSWORD))).headers["Location"])
    assert claims["acr"] == ACR_PASSWORD


@pytest.mark.parametrize(("prompt", "error"), [(None, "access_denied"), ("none", "login_required")])
def test_an_essential_acr_without_a_factor_that_reaches_it_fails(live_server, make, prompt, error):
    make.user("weak@example.com")
    rp = RelyingParty(live_server, make.client())
    browser = signed_in(live_server, "weak@example.com")
    extra = {"prompt": prompt} if prompt else {}
    query = refusal(browser.session.get(rp.authorization_url(claims=essential(ACR_MFA), **extra),
                                        allow_redirects=False))
    assert query["error"] == error and "acr" in query["error_description"] and "code" not in query


def test_an_essential_phr_is_not_stepped_up_to_mfa_in_vain(app, live_server, make):
    """Only the app, no passkey: the code would not reach phr, so it is not asked for; the request fails."""
    browser, old_token, _ = password_only_session(app, make, "app@example.com")
    rp = RelyingParty(live_server, make.client())
    query = refusal(browser.session.get(rp.authorization_url(claims=essential(ACR_PHISHING_RESISTANT)),
                                        allow_redirects=False))
    assert query["error"] == "access_denied"
    assert browser.session.cookies["ostiary_session"] == old_token


def test_essential_acr_values_none_of_which_is_ours_fail_before_any_sign_in(live_server, make):
    rp = RelyingParty(live_server, make.client())
    query = refusal(Browser(live_server).session.get(
        rp.authorization_url(claims=essential("urn:example:gold", "0")), allow_redirects=False))
    assert query["error"] == "access_denied"
    assert query["error_description"] == "none of the requested acr values is supported"


def test_essential_acr_values_none_of_which_is_ours_with_prompt_none(live_server, make):
    make.user("quiet@example.com")
    rp = RelyingParty(live_server, make.client())
    browser = signed_in(live_server, "quiet@example.com")
    query = refusal(browser.session.get(rp.authorization_url(claims=essential("urn:example:gold"), prompt="none"),
                                        allow_redirects=False))
    assert query["error"] == "login_required"
    assert query["error_description"] == "none of the requested acr values is supported"


def test_the_claims_parameter_survives_the_sign_in_and_is_checked_after_it(live_server, make):
    make.user("later@example.com")
    rp = RelyingParty(live_server, make.client())
    browser = Browser(live_server)
    asked = browser.session.get(rp.authorization_url(claims=essential(ACR_MFA)), allow_redirects=False)
    assert asked.headers["Location"].startswith("/login?")
    back = browser.login("later@example.com", next_url=query_of(asked.headers["Location"])["next"])
    assert refusal(browser.follow(back))["error"] == "access_denied"


def test_a_voluntary_acr_claim_goes_on_at_the_level_reached(live_server, make):
    make.user("free@example.com")
    rp = RelyingParty(live_server, make.client())
    browser = signed_in(live_server, "free@example.com")
    voluntary = json.dumps({"id_token": {"acr": {"values": [ACR_MFA]}}})
    claims = rp.id_token(authorize(browser, rp.authorization_url(claims=voluntary)).headers["Location"])
    assert claims["acr"] == ACR_PASSWORD
