"""Importing accounts-js users through Python: the guide's example on the sample mongoexport file,
then logins with the old passwords and TOTP codes (docs/migrating-from-accounts-js.md)."""

import json
import pathlib
import subprocess
import sys

import pyotp
import pytest

import accounts
from conftest import make

ROOT = pathlib.Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "python" / "accounts-js-users.jsonl"
SECRET = "example-secret-change-me-0123456789abcdef"


def test_the_guide_example_imports_the_sample_and_old_credentials_work(tmp_path):
    db = f"sqlite:{tmp_path / 'migrated.db'}"
    run = lambda: subprocess.run([sys.executable, str(ROOT / "examples" / "python" / "import_accounts_js.py"), str(SAMPLE), db],
                                 capture_output=True, text=True, check=True).stdout
    out = run()
    assert "imported 3, skipped 0 (already there), failed 1" in out
    assert "line 4: EmailAlreadyExists" in out
    assert "imported 0, skipped 3" in run(), "re-running skips what is there"

    s = accounts.AccountsServer(db=db, token_secret=SECRET)
    with pytest.raises(accounts.TwoFactorCodeRequired):
        s.login_with_service("password", {"user": "ann", "password": "ann's old password"})
    code = pyotp.TOTP("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").now()
    login = s.login_with_service("password", {"user": "ann@example.com", "password": "ann's old password", "code": code})
    assert login["user"]["id"] == "65a1f0000000000000000001"
    assert login["user"]["emails"] == [{"address": "ann@example.com", "verified": True}]
    bob = s.login_with_service("password", {"user": "bob", "password": "bob's old password"})["user"]
    assert bob["id"] == "65a1f0000000000000000002" and bob["createdAt"] == 1701424800000
    assert s.find_user_by_id("65a1f0000000000000000003")["deactivated"] is True


def test_import_users_reports_each_bad_record():
    s = make()
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    report = s.import_users(records + [{"_id": "x", "username": "al\u0456ce"}])
    assert (report["imported"], report["skipped"]) == (3, 0)
    assert [(f["index"], f["code"]) for f in report["failed"]] == [(3, "EmailAlreadyExists"), (4, "InvalidUsername")]
    with pytest.raises(accounts.InvalidArgument):
        s.import_users({"not": "a list"})
