"""``orch call --input-file NAME=PATH``: an input's value from a file, so a secret (a password
hash, a key, a file's content) never sits in argv or shell history; sensitive inputs stay
masked in the console and the journal as when given as K=V."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import run_orch


@pytest.mark.lab
def test_a_sensitive_input_from_a_file_reaches_the_host_and_nowhere_else(lab, tmp_path):
    secret = f"s3cret-{uuid.uuid4().hex}"
    source = tmp_path / "content.txt"
    source.write_text(f"line one\n{secret}\n")
    target = lab.state_dir("dev1") / f"input-file-{uuid.uuid4().hex[:8]}.txt"
    # sensitive=true: file.write then replies no diff (its lines would show the secret)
    result = lab.orch("call", "file.write", f"path={target}", "sensitive=true", "--input-file",
                      f"content={source}", "-I", "dev1", "-v", check=True)
    assert target.read_text() == f"line one\n{secret}"  # one trailing newline dropped
    assert secret not in result.stdout + result.stderr
    journal = lab.workdir / "journal.db"
    assert journal.exists() and secret.encode() not in journal.read_bytes()
    assert all(secret not in line for line in lab.audit_lines("dev1"))
    target.unlink()


@pytest.mark.parametrize("argv, message", [
    (["content=x", "--input-file", "content=f.txt"], "input content is given twice"),
    (["--input-file", "content"], "expected NAME=PATH"),
    (["--input-file", "content=missing.txt"], "missing.txt"),
    (["--input-file", "content=-"], "content=- needs a terminal"),
])
def test_bad_input_files_are_one_line_errors(tmp_path, argv, message):
    (tmp_path / "f.txt").write_text("x\n")
    result = run_orch(["call", "file.write", "path=/tmp/never-written", *argv, "-I", "dev1"],
                      tmp_path)
    assert result.code == 2, str(result)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not Path("/tmp/never-written").exists()
