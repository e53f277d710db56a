"""Strict Stone decoding of raw emulator payloads (reference §0.4, §8.1).

The SDK decodes responses non-strictly, so extra fields or unknown tags would pass
unnoticed.  Here raw bodies are decoded with strict=True, which rejects them.
"""

import json

import pytest
from dropbox import files, sharing, stone_serializers, team, users

from conftest import content_hash
from test_team import TEAM_MANIFEST


def strict(validator, body):
    if isinstance(body, (bytes, str)):
        obj = json.loads(body)
    else:
        obj = body
    assert_no_nulls(obj)
    return stone_serializers.json_compat_obj_decode(validator, obj, strict=True)


def assert_no_nulls(obj, where="$"):
    """Optional fields are omitted, never null (§0.4)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert v is not None, f"{where}.{k} is null"
            assert_no_nulls(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_no_nulls(v, f"{where}[{i}]")


def ok_json(r):
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"] == "application/json"
    assert "Dropbox-API-Result" not in r.headers, "RPC responses never carry Dropbox-API-Result"
    return r.content


def test_list_folder_strict(emu, token):
    body = ok_json(emu.rpc("files/list_folder", {"path": "", "recursive": True, "limit": 5}, token=token))
    res = strict(files.ListFolderResult_validator, body)
    assert res.entries
    while res.has_more:
        body = ok_json(emu.rpc("files/list_folder/continue", {"cursor": res.cursor}, token=token))
        res = strict(files.ListFolderResult_validator, body)
    body = ok_json(emu.rpc("files/list_folder/get_latest_cursor", {"path": ""}, token=token))
    strict(files.ListFolderGetLatestCursorResult_validator, body)


def test_get_metadata_strict(emu, token):
    for path in ("/Docs/a.txt", "/Docs", "/Plan.paper"):
        body = ok_json(emu.rpc("files/get_metadata", {"path": path}, token=token))
        md = strict(files.Metadata_validator, body)
        assert md.path_lower == path.lower()


def test_get_current_account_strict(emu, token):
    # Void argument: SDK style (null body) and curl style (no body, no Content-Type).
    body = ok_json(emu.rpc("users/get_current_account", None, token=token))
    acct = strict(users.FullAccount_validator, body)
    assert acct.email == emu.manifest["account"]["email"]
    body2 = ok_json(emu.rpc("users/get_current_account", None, token=token, body=b"", content_type=None))
    assert strict(users.FullAccount_validator, body2).account_id == acct.account_id


def test_list_received_files_strict(emu, token):
    body = ok_json(emu.rpc("sharing/list_received_files", {"limit": 1}, token=token))
    res = strict(sharing.ListFilesResult_validator, body)
    entries = list(res.entries)
    while res.cursor:
        body = ok_json(emu.rpc("sharing/list_received_files/continue", {"cursor": res.cursor}, token=token))
        res = strict(sharing.ListFilesResult_validator, body)
        entries += res.entries
    assert len(entries) == len(emu.manifest["received_files"])
    for e in entries:
        body = ok_json(emu.rpc("sharing/get_shared_link_metadata", {"url": e.preview_url}, token=token))
        md = strict(sharing.SharedLinkMetadata_validator, body)
        assert md.name == e.name
        r = emu.download("sharing/get_shared_link_file", {"url": e.preview_url}, token=token)
        assert r.status_code == 200
        strict(sharing.SharedLinkMetadata_validator, r.headers["Dropbox-API-Result"])


def test_export_result_strict(emu, token):
    doc = emu.manifest["paper"][0]
    r = emu.download("files/export", {"path": doc["path"], "export_format": "markdown"}, token=token)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/octet-stream"
    res = strict(files.ExportResult_validator, r.headers["Dropbox-API-Result"])
    assert res.export_metadata.export_hash == content_hash(r.content)


def test_download_result_strict(emu, token):
    r = emu.download("files/download", {"path": "/Docs/a.txt"}, token=token)
    assert r.status_code == 200
    md = strict(files.FileMetadata_validator, r.headers["Dropbox-API-Result"])
    assert md.size == len(r.content)


def test_write_results_strict(emu, token):
    r = emu.rpc("files/create_folder_v2", {"path": "/Strict"}, token=token)
    strict(files.CreateFolderResult_validator, ok_json(r))
    r = emu.rpc("files/move_v2", {"from_path": "/Strict", "to_path": "/Archive/Strict"}, token=token)
    strict(files.RelocationResult_validator, ok_json(r))
    r = emu.rpc("files/delete_v2", {"path": "/Archive/Strict"}, token=token)
    strict(files.DeleteResult_validator, ok_json(r))


def test_error_bodies_strict(emu, token):
    cases = [
        ("files/get_metadata", {"path": "/nope"}, files.GetMetadataError_validator),
        ("files/list_folder", {"path": "/nope"}, files.ListFolderError_validator),
        ("sharing/get_shared_link_metadata", {"url": "https://www.dropbox.com/s/unknown/x"},
         sharing.SharedLinkError_validator),
    ]
    for route, arg, validator in cases:
        r = emu.rpc(route, arg, token=token)
        assert r.status_code == 409, (route, r.status_code, r.text)
        assert r.headers["Content-Type"] == "application/json"
        env = json.loads(r.content)
        assert set(env) <= {"error", "error_summary", "user_message"}, env
        strict(validator, env["error"])
    r = emu.download("files/download", {"path": "/Plan.paper"}, token=token)
    assert r.status_code == 409
    assert "Dropbox-API-Result" not in r.headers
    assert strict(files.DownloadError_validator, json.loads(r.content)["error"]).is_unsupported_file()


def test_auth_error_body_strict(emu, token):
    from dropbox import auth

    emu.expire_tokens()
    r = emu.rpc("files/list_folder", {"path": ""}, token=token)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/json"
    assert strict(auth.AuthError_validator, r.json()["error"]).is_expired_access_token()


@pytest.fixture
def team_emu(start_emulator):
    return start_emulator(TEAM_MANIFEST)


def test_team_results_strict(team_emu):
    tok = team_emu.access_token()
    body = ok_json(team_emu.rpc("team/token/get_authenticated_admin", None, token=tok))
    admin = strict(team.TokenGetAuthenticatedAdminResult_validator, body).admin_profile
    body = ok_json(team_emu.rpc("team/members/list_v2", {"limit": 1}, token=tok))
    res = strict(team.MembersListV2Result_validator, body)
    while res.has_more:
        body = ok_json(team_emu.rpc("team/members/list/continue_v2", {"cursor": res.cursor}, token=tok))
        res = strict(team.MembersListV2Result_validator, body)
    body = ok_json(team_emu.rpc("team/team_folder/list", {"limit": 10}, token=tok))
    strict(team.TeamFolderListResult_validator, body)
    body = ok_json(team_emu.rpc("users/get_current_account", None, token=tok,
                                headers={"Dropbox-API-Select-User": admin.team_member_id}))
    acct = strict(users.FullAccount_validator, body)
    from dropbox import common
    assert isinstance(acct.root_info, common.TeamRootInfo)
