"""Schemathesis over the router's own OpenAPI document: bounded examples per operation, no 5xx, every
answer's status and body as the document says (router/voicestack_router/openapi.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.reliability.conftest import FIGURES, Stack

MAX_EXAMPLES = 5
# Found by this test and not fixed yet: faster-whisper's word alignment (find_alignment) raises IndexError on
# a degenerate decode of a few hundredths of a second of noise (/asr?encode=false&word_timestamps=true with a
# ~700-byte body), a 502. Any other failure fails the test (docs/reliability.md, "Known, not fixed here").
KNOWN_FAILURE = "transcription failed: IndexError: boolean index did not match indexed array"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_schemathesis_finds_no_server_error_and_no_schema_violation(stack: Stack, tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    result = subprocess.run(
        [
            cli, "run", f"{stack.url}/openapi.json",
            "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", "16",
            "--phases", "examples,fuzzing", "--workers", "2", "--request-timeout", "60",
            "--generation-deterministic", "--no-shrink", "--max-time", "100",
            "--report", "junit", "--report-dir", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=420, check=False, cwd=tmp_path,  # its cache folder too
    )  # fmt: skip
    output = result.stdout + result.stderr
    counts = re.compile(r"\d+ (passed|failed|errored|skipped)")
    summary = [line for line in output.splitlines() if counts.search(line)]
    tested = re.findall(r"Test cases:\s*(.+)", output)
    FIGURES["schemathesis"] = {
        "checks": CHECKS,
        "max examples per operation": MAX_EXAMPLES,
        "test cases": tested[-1].strip() if tested else "?",
        "summary": summary[-1].strip() if summary else output.strip().splitlines()[-1:],
    }
    failures = output.split("Test Case ID:")[1:]
    unknown = [failure for failure in failures if KNOWN_FAILURE not in failure]
    FIGURES["schemathesis"]["known engine failures (IndexError)"] = len(failures) - len(unknown)
    assert result.returncode == 0 or (failures and not unknown), output[-6000:]
