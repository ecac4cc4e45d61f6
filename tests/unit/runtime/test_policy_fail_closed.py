"""A policy folder that cannot be read denies (issue 16: it used to skip `policy default deny`)."""

import errno
from unittest import mock

from orch.runtime import core


def test_a_policy_folder_that_is_not_a_folder_denies(tmp_path):
    (tmp_path / "policy").write_text("policy default deny\n")  # ENOTDIR for policy/appmgr.policy
    reason = core.check_policy(str(tmp_path), "appmgr", "upgrade", "rip", {})
    assert reason and "cannot read policy" in reason


def test_a_policy_folder_without_permission_denies(tmp_path):
    (tmp_path / "policy").mkdir()
    denied = PermissionError(errno.EACCES, "Permission denied")
    with mock.patch("builtins.open", side_effect=denied):  # root reads anything: as a user would
        reason = core.check_policy(str(tmp_path), "appmgr", "upgrade", "rip", {})
    assert reason and "Permission denied" in reason


def test_no_policy_at_all_still_allows(tmp_path):
    assert core.check_policy(str(tmp_path), "appmgr", "upgrade", "rip", {}) is None
    (tmp_path / "policy").mkdir()
    assert core.check_policy(str(tmp_path), "appmgr", "upgrade", "rip", {}) is None
