"""The first stage alone, as Mitogen tests its first stage: fed whole, in pieces, cut short."""

import subprocess
import time
import zlib

from orch.runtime import bootstrap

PYTHON = "/usr/bin/python3"

# A stand-in for core.py: proves the stage execs the payload as module orch_runtime, calls
# main(), and leaves every byte after the payload unread for main() to take from fd 0.
FAKE_CORE = b'''
import os, sys
def main():
    rest = b""
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        rest += chunk
    os.write(1, b"name=" + __name__.encode() + b" in_modules=" +
             str("orch_runtime" in sys.modules).encode() + b" rest=" + rest)
'''


def fake_payload() -> bytes:
    compressed = zlib.compress(FAKE_CORE)
    return b"%d\n" % len(compressed) + compressed


def run_stage(chunks, argv=None, delay=0.0):
    process = subprocess.Popen(argv or [PYTHON, "-I", "-S", "-c", bootstrap.COMMAND],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    for chunk in chunks:
        process.stdin.write(chunk)
        process.stdin.flush()
        time.sleep(delay)
    process.stdin.close()
    out = process.stdout.read()
    err = process.stderr.read()
    code = process.wait(timeout=10)
    process.stdout.close()
    process.stderr.close()
    return code, out, err


def test_whole_payload_then_frames_are_not_swallowed():
    code, out, err = run_stage([fake_payload() + b"FRAMES-AFTER"])
    assert code == 0, err
    assert out == b"name=orch_runtime in_modules=True rest=FRAMES-AFTER"


def test_payload_in_small_pieces():
    data = fake_payload() + b"tail"
    pieces = [data[i:i + 7] for i in range(0, len(data), 7)]
    code, out, err = run_stage(pieces, delay=0.001)
    assert code == 0, err
    assert out.endswith(b"rest=tail")


def test_input_cut_short_fails_with_a_message():
    code, out, err = run_stage([fake_payload()[:20]])
    assert code != 0
    assert out == b""
    assert b"orch bootstrap: input ended early" in err


def test_command_survives_a_posix_shell():
    assert "'" not in bootstrap.COMMAND
    code, out, err = run_stage([fake_payload() + b"x"], argv=["sh", "-c", bootstrap.command(PYTHON)])
    assert code == 0, err
    assert out.endswith(b"rest=x")


def test_payload_is_compressed_core():
    data = bootstrap.payload()
    count, _, body = data.partition(b"\n")
    assert int(count) == len(body)
    assert zlib.decompress(body) == bootstrap.CORE_PATH.read_bytes()
