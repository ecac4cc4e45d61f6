"""The first stage alone, as Mitogen tests its first stage: fed whole, in pieces, cut short."""

import marshal
import subprocess
import sys
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
    return bootstrap.pack(zlib.compress(FAKE_CORE), "no-such-python")


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


def test_payload_is_compressed_core_and_its_bytecode():
    data = bootstrap.payload()
    header, _, body = data.partition(b"\n")
    size, tag, code_size = header.split()
    assert tag.decode() == sys.implementation.cache_tag
    assert int(size) + int(code_size) == len(body)
    assert zlib.decompress(body[:int(size)]) == bootstrap.CORE_PATH.read_bytes()
    code = marshal.loads(zlib.decompress(body[int(size):]))
    assert code.co_filename.endswith("orch/runtime/core.py")
    assert "main" in code.co_names


def _which_ran(tag: str) -> tuple[int, bytes, bytes]:
    """A payload whose source and bytecode differ, so the output says which one ran."""
    def body(kind: str) -> bytes:
        return FAKE_CORE.replace(b'b"name="', b'b"%s name="' % kind.encode())
    code = compile(body("bytecode"), "orch/runtime/core.py", "exec")
    data = bootstrap.pack(zlib.compress(body("source")), tag, zlib.compress(marshal.dumps(code)))
    return run_stage([data + b"after"])


def test_bytecode_runs_when_the_host_python_matches():
    tag = subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; print(sys.implementation.cache_tag)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    code, out, err = _which_ran(tag)
    assert code == 0, err
    assert out == b"bytecode name=orch_runtime in_modules=True rest=after"


def test_source_runs_when_the_host_python_differs():
    code, out, err = _which_ran("cpython-26")
    assert code == 0, err
    assert out == b"source name=orch_runtime in_modules=True rest=after"
