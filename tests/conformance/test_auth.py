"""OAuth2: refresh-token flow, transparent refresh, error mapping, PKCE code flow (reference §1, §2, §9.4)."""

import base64
import hashlib
import html
import re
import urllib.parse

import dropbox
import pytest
import requests

from conftest import APP_KEY, APP_SECRET, REFRESH_TOKEN


def test_refresh_token_client_works(dbx, emu):
    acct = dbx.users_get_current_account()
    assert acct.email == emu.manifest["account"]["email"]
    assert acct.name.display_name == emu.manifest["account"]["display_name"]
    assert len(acct.account_id) == 40
    assert emu.route_count("oauth2/token") == 1


def test_transparent_refresh_after_expiry(dbx, emu):
    dbx.users_get_current_account()
    before = emu.route_count("oauth2/token")
    assert before >= 1
    old_token = dbx._oauth2_access_token
    emu.expire_tokens()
    acct = dbx.users_get_current_account()  # 401 expired_access_token -> refresh -> retry
    assert acct.email == emu.manifest["account"]["email"]
    assert emu.route_count("oauth2/token") == before + 1
    assert dbx._oauth2_access_token != old_token


def test_token_endpoint_shapes(emu):
    r = emu.token_request({"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
                           "client_id": APP_KEY, "client_secret": APP_SECRET})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] == 14400
    assert body["access_token"]
    assert "refresh_token" not in body, "a refresh grant returns no new refresh token (§1.2)"

    # HTTP Basic client authentication, and parameters in the query string (JS SDK style).
    r = emu.token_request({"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}, auth=(APP_KEY, APP_SECRET))
    assert r.status_code == 200, r.text
    r = emu.token_request(params={"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
                                  "client_id": APP_KEY, "client_secret": APP_SECRET})
    assert r.status_code == 200, r.text

    r = emu.token_request({"grant_type": "password", "client_id": APP_KEY, "client_secret": APP_SECRET})
    assert r.status_code == 400


def test_token_lifetime_flag(start_emulator):
    emu = start_emulator(extra_args=["--token-lifetime-secs", "120"])
    r = emu.token_request({"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
                           "client_id": APP_KEY, "client_secret": APP_SECRET})
    assert r.json()["expires_in"] == 120
    # 120 s is inside the SDK's 300 s proactive window, so every call refreshes first.
    dbx = emu.dropbox()
    for _ in range(3):
        dbx.users_get_current_account()
    assert emu.route_count("oauth2/token") == 1 + 3


def test_custom_app_credentials_flags(start_emulator):
    emu = start_emulator(extra_args=["--app-key", "k2", "--app-secret", "s2", "--refresh-token", "rt2"])
    acct = emu.dropbox(app_key="k2", app_secret="s2", oauth2_refresh_token="rt2").users_get_current_account()
    assert acct.email == emu.manifest["account"]["email"]
    with pytest.raises(dropbox.exceptions.AuthError) as ei:
        # The default refresh token is not valid with these flags -> invalid_grant.
        emu.dropbox(app_key="k2", app_secret="s2").users_get_current_account()
    assert ei.value.error.is_invalid_access_token()
    with pytest.raises(dropbox.exceptions.BadInputError) as ei:
        emu.dropbox(oauth2_refresh_token="rt2").users_get_current_account()  # default app key
    assert "invalid_client" in ei.value.message


def test_bad_refresh_token(emu):
    dbx = emu.dropbox(oauth2_refresh_token="not-the-refresh-token")
    with pytest.raises(dropbox.exceptions.AuthError) as ei:
        dbx.users_get_current_account()
    assert ei.value.error.is_invalid_access_token()  # how the SDK maps invalid_grant
    r = emu.token_request({"grant_type": "refresh_token", "refresh_token": "not-the-refresh-token",
                           "client_id": APP_KEY, "client_secret": APP_SECRET})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert "X-Dropbox-Request-Id" in r.headers


def test_bad_app_secret(emu):
    dbx = emu.dropbox(app_secret="wrong-secret")
    with pytest.raises(dropbox.exceptions.BadInputError) as ei:
        dbx.users_get_current_account()
    assert "invalid_client" in ei.value.message
    r = emu.token_request({"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
                           "client_id": APP_KEY, "client_secret": "wrong-secret"})
    assert r.status_code == 400 and r.json()["error"].startswith("invalid_client")
    r = emu.token_request({"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
                           "client_id": "wrong-key", "client_secret": APP_SECRET})
    assert r.status_code == 400 and r.json()["error"].startswith("invalid_client")


def authorize(emu, sess, flow):
    url = flow.start()
    u = urllib.parse.urlsplit(url)
    assert u.scheme == "https" and u.hostname == "www.dropbox.com" and u.path == "/oauth2/authorize"
    r = sess.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/html")
    m = re.search(r'<code id="auth-code">([^<]+)</code>', r.text)
    assert m, r.text[:500]
    return html.unescape(m.group(1)), urllib.parse.parse_qs(u.query)


def test_pkce_code_flow(emu, sess):
    flow = dropbox.DropboxOAuth2FlowNoRedirect(APP_KEY, token_access_type="offline", use_pkce=True)
    code, q = authorize(emu, sess, flow)
    assert q["client_id"] == [APP_KEY] and q["code_challenge_method"] == ["S256"]
    want = base64.urlsafe_b64encode(hashlib.sha256(flow.code_verifier.encode()).digest()).decode().rstrip("=")
    assert q["code_challenge"] == [want]
    flow.requests_session = sess
    res = flow.finish(code)
    assert res.refresh_token, "offline access must return a refresh token"
    assert res.access_token and res.account_id
    assert len(res.account_id) == 40

    # The access token works directly...
    acct = dropbox.Dropbox(res.access_token, session=sess).users_get_current_account()
    assert acct.email == emu.manifest["account"]["email"] and acct.account_id == res.account_id
    # ...and the refresh token works with only the app key (PKCE: no secret).
    dbx = dropbox.Dropbox(oauth2_refresh_token=res.refresh_token, app_key=APP_KEY, session=sess)
    assert dbx.users_get_current_account().account_id == res.account_id

    # A code is single use.
    with pytest.raises(requests.HTTPError) as ei:
        flow.finish(code)
    assert ei.value.response.status_code == 400


def test_pkce_wrong_verifier_rejected(emu, sess):
    flow = dropbox.DropboxOAuth2FlowNoRedirect(APP_KEY, token_access_type="offline", use_pkce=True)
    code, _ = authorize(emu, sess, flow)
    flow.requests_session = sess
    flow.code_verifier = "x" * 128
    with pytest.raises(requests.HTTPError) as ei:
        flow.finish(code)
    assert ei.value.response.status_code == 400


def test_secret_code_flow_online_has_no_refresh_token(emu, sess):
    flow = dropbox.DropboxOAuth2FlowNoRedirect(APP_KEY, APP_SECRET, token_access_type="online")
    code, q = authorize(emu, sess, flow)
    assert "code_challenge" not in q
    flow.requests_session = sess
    res = flow.finish(code)
    assert res.refresh_token == ""
    assert res.expires_at is not None
    acct = dropbox.Dropbox(res.access_token, session=sess).users_get_current_account()
    assert acct.email == emu.manifest["account"]["email"]


def test_expired_token_without_refresh(emu, sess, token):
    dbx = dropbox.Dropbox(token, session=sess, max_retries_on_error=0)
    dbx.users_get_current_account()
    emu.expire_tokens()
    with pytest.raises(dropbox.exceptions.AuthError) as ei:
        dbx.users_get_current_account()
    assert ei.value.error.is_expired_access_token()


def test_unknown_token(emu, sess, token):
    # Same shape as a real token, different value -> 401 invalid_access_token.
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(dropbox.exceptions.AuthError) as ei:
        dropbox.Dropbox(forged, session=sess).users_get_current_account()
    assert ei.value.error.is_invalid_access_token()


def test_revoked_token(emu, sess, token):
    # POST /2/auth/token/revoke (§1.2): Void result, so the body is JSON `null`.
    dbx = dropbox.Dropbox(token, session=sess)
    dbx.users_get_current_account()
    assert dbx.auth_token_revoke() is None
    with pytest.raises(dropbox.exceptions.AuthError) as ei:
        dbx.users_get_current_account()
    assert ei.value.error.is_invalid_access_token()


def test_missing_authorization_is_400(emu):
    r = emu.rpc("users/get_current_account", None)
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "Authorization" in r.text
