"""Masking of numbers and addresses in texts (correct, and linear on any text), and log lines no value can forge."""

import subprocess
import sys

import pytest

from app.config import ROOT
from app.privacy import mask_text


@pytest.mark.parametrize("raw, masked", [
    ("llámame al 5512345678", "llámame al [phone]"),
    ("mi cel +52 (55) 1234-5678.", "mi cel [phone]."),
    ("55/1234/5678", "[phone]"),
    ("tel 55,1234,5678 gracias", "tel [phone] gracias"),
    ("+52 962/987.65-43", "[phone]"),
    ("numero:+5215512345678,", "numero:[phone],"),
    ("a++5512345678", "a+[phone]"),
    ("1 2 3 4 5 6 7", "[phone]"),
    ("٥٥١٢٣٤٥٦٧٨", "[phone]"),  # Arabic-Indic digits are digits too
    ("tengo 3 hijos y 25 años", "tengo 3 hijos y 25 años"),
    ("el 12/05/24 a las 10,30", "el 12/05/24 a las 10,30"),  # six digits or fewer stay
    ("123456", "123456"),
    ("escribe a juan.perez+x@mail.example.com", "escribe a [email]"),
    ("ana@example.org.", "[email]."),
    ("(ana_b-c@sub.example-x.org)", "([email])"),
    ("a@b@c.com", "a@[email]"),
    ("correo ana@localhost", "correo ana@localhost"),  # no dot in the domain: not an address
    ("ana@example.org 5512345678", "[email] [phone]"),
])
def test_masking(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


# Each of these took quadratic time or worse before: a 64 kB run without spaces took about 7 s.
HARD_TEXTS = {
    "letters": '"a" * 1_000_000',
    "address characters": '"a." * 500_000',
    "at signs": '"a@" * 500_000',
    "digits and separators": '"1/2,3 4-(5)." * 80_000',
    "short digit runs": '("1" * 6 + "x") * 140_000',
    "a domain that never ends": '"a@" + "b-" * 500_000',
}


@pytest.mark.parametrize("name", HARD_TEXTS)
def test_masking_a_megabyte_is_linear(name: str) -> None:
    """In a child process, so a quadratic regex fails the test by its time-out instead of hanging the run.

    Linear masking of a megabyte takes well under a second; the time-out is generous for a loaded machine.
    """
    code = f"from app.privacy import mask_text; text = {HARD_TEXTS[name]}; assert len(text) >= 900_000; mask_text(text)"
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"masking a megabyte of {name} did not end within 30 s")
    assert done.returncode == 0, done.stderr


def test_log_lines_cannot_be_forged() -> None:
    """The app's logging: a value with CR, LF or another control character stays on its own line, escaped."""
    code = """
import logging
from app.config import Settings
from app.main import create_app
create_app(Settings(_env_file=None))
log = logging.getLogger("app.main")
log.warning("rejected sid=%s", "SM1\\nINFO migrantinfo answered sid=SM2\\r\\x1b[31m\\u2028end")
try:
    raise RuntimeError("boom")
except RuntimeError:
    log.exception("failed sid=%s", "SM3\\nforged")
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = done.stderr.splitlines()
    [rejected] = [line for line in lines if "rejected" in line]
    assert rejected.endswith(r"rejected sid=SM1\nINFO migrantinfo answered sid=SM2\r\x1b[31m\u2028end")
    assert not any(line.startswith("INFO migrantinfo answered") for line in lines)
    [failed] = [line for line in lines if "failed sid=" in line]
    assert failed.endswith(r"failed sid=SM3\nforged")
    assert "Traceback (most recent call last):" in lines and "RuntimeError: boom" in lines  # its lines are kept


def test_the_queue_worker_logs_one_line_a_record_too() -> None:
    """`migrantinfo worker` sets its logging up with the same function as the app."""
    code = """
import logging
from app import logs
logs.configure("INFO")
logging.getLogger("app.outbound.queue").info("alert %s", "7\\nWARNING forged")
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stderr.count("\n") == 1 and done.stderr.rstrip().endswith(r"alert 7\nWARNING forged")
