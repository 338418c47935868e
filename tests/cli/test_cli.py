"""The `migrantinfo` command as a person runs it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from app.config import ROOT

BIN = Path(sys.executable).parent / "migrantinfo"


def run(*args: str, tmp_path: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "HASH_SECRET": "cli-secret",
                   "CONTENT_SNAPSHOT_DIR": str(tmp_path / "content-last-good"), "INBOX_DIR": str(tmp_path / "inbox"),
                   **env}
    return subprocess.run([str(BIN), *args], input=stdin, capture_output=True, text=True, timeout=120,
                          env=environment, cwd=tmp_path)


def test_db_upgrade(tmp_path: Path) -> None:
    result = run("db", "upgrade", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.db").exists()


def test_chat_shows_sms_segments_and_encoding(tmp_path: Path) -> None:
    result = run("chat", "--channel", "sms", "--from", "+5215512345678", tmp_path=tmp_path, stdin="ASILO MX\nSTOP\nhola\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "--- SMS, " in out and "GSM-7" in out
    assert "COMAR" in out
    assert out.rstrip().endswith("--- (no reply)")  # after STOP, nothing


def test_chat_whatsapp(tmp_path: Path) -> None:
    result = run("chat", "--channel", "whatsapp", "--from", "+50937001122", tmp_path=tmp_path, stdin="MENI\n")
    assert result.returncode == 0, result.stderr
    assert "--- WhatsApp, " in result.stdout and "14. " in result.stdout


def test_purge(tmp_path: Path) -> None:
    run("chat", "--channel", "sms", tmp_path=tmp_path, stdin="hola\n")
    result = run("purge", tmp_path=tmp_path, RETENTION_DAYS="0")
    assert result.returncode == 0, result.stderr
    assert "removed the texts of" in result.stdout
    assert int(result.stdout.split("removed the texts of ")[1].split()[0]) >= 2


def test_content_check_passes_on_the_shipped_content(tmp_path: Path) -> None:
    result = run("content", "check", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout


def test_content_check_fails_with_file_and_line(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    path = content / "answers" / "regional.yaml"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("reviewer:"))
    lines.insert(index + 1, lines[index].replace("reviewer:", "reviewr:"))
    path.write_text("\n".join(lines) + "\n")
    result = run("content", "check", tmp_path=tmp_path, CONTENT_DIR=str(content))
    assert result.returncode == 1
    assert f"content/answers/regional.yaml:{index + 2}:" in result.stdout
    assert "reviewr" in result.stdout


def test_content_check_names_a_folder_named_like_a_yaml_file(tmp_path: Path) -> None:
    content = Path(shutil.copytree(ROOT / "content", tmp_path / "content"))
    (content / "countries" / "xx.yaml").mkdir()
    result = run("content", "check", tmp_path=tmp_path, CONTENT_DIR=str(content))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "content/countries/xx.yaml:1: a folder named like a YAML file" in result.stdout


def test_chat_over_broken_content_serves_the_last_good_version(tmp_path: Path) -> None:
    content = Path(shutil.copytree(ROOT / "content", tmp_path / "content"))
    assert run("chat", tmp_path=tmp_path, stdin="hola\n", CONTENT_DIR=str(content)).returncode == 0
    (content / "countries" / "MX.yaml").write_text("code: [\n")
    result = run("chat", "--channel", "sms", tmp_path=tmp_path, stdin="ASILO MX\n", CONTENT_DIR=str(content))
    assert result.returncode == 0, result.stderr
    assert "content/countries/MX.yaml:" in result.stderr and "serving the last good version" in result.stderr
    assert "COMAR" in result.stdout
    fresh = run("chat", tmp_path=tmp_path, stdin="hola\n", CONTENT_DIR=str(content),
                CONTENT_SNAPSHOT_DIR=str(tmp_path / "empty"))
    assert fresh.returncode == 1 and "Traceback" not in fresh.stderr
    assert "content/countries/MX.yaml:" in fresh.stderr and "cannot be served" in fresh.stderr


def test_content_report_writes_csv_and_html(tmp_path: Path) -> None:
    result = run("content", "report", "--csv", "out/c.csv", "--html", "out/c.html", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 required cell(s) not answered" in result.stdout
    assert (tmp_path / "out" / "c.csv").read_text().startswith("country,topic,language,status")
    assert "<table>" in (tmp_path / "out" / "c.html").read_text()


def test_content_reload_talks_to_the_running_server(tmp_path: Path) -> None:
    from tests.conftest import LiveServer, make_settings

    settings = make_settings(f"sqlite:///{tmp_path / 'srv.db'}", api_token="cli-admin-token")
    with LiveServer(settings) as server:
        ok = run("content", "reload", "--url", server.url, tmp_path=tmp_path, API_TOKEN="cli-admin-token")
        wrong = run("content", "reload", "--url", server.url, tmp_path=tmp_path, API_TOKEN="nope")
    assert ok.returncode == 0 and "reloaded: version" in ok.stdout
    assert wrong.returncode == 1
    down = run("content", "reload", "--url", "http://127.0.0.1:9", tmp_path=tmp_path, API_TOKEN="x")
    assert down.returncode == 2 and "cannot reach" in down.stderr


def test_the_compose_file_runs_commands_that_exist(tmp_path: Path) -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"app", "worker", "rasa", "postgres", "redis"} <= set(compose["services"])
    for name in ("app", "worker"):
        command = compose["services"][name]["command"]
        assert command[0] == "migrantinfo"
        options = [word for word in command[1:] if word.startswith("--")]
        help_text = run(command[1], "--help", tmp_path=tmp_path)
        assert help_text.returncode == 0, help_text.stderr
        for option in options:
            assert option in help_text.stdout, f"{name}: {option} is not an option of `migrantinfo {command[1]}`"
    environment = compose["x-app"]["environment"]
    assert environment["REDIS_URL"].startswith("redis://") and environment["DATABASE_URL"].startswith("postgresql")


def test_keys_new_prints_a_key_that_seals(tmp_path: Path) -> None:
    from app.crypto import AddressBox

    key = run("keys", "new", tmp_path=tmp_path).stdout.strip()
    assert AddressBox(key, hash_secret="x").open(AddressBox(key, hash_secret="x").seal("+50688887777")) == "+50688887777"


def test_inbox_lists_what_was_not_answered(tmp_path: Path) -> None:
    from app.conversation.inbox import Inbox
    from app.crypto import box_for
    from app.messages import Inbound
    from app.storage import store
    from app.storage.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    upgrade(engine)
    store.record_failed(engine, sid="SMfailed000000000000000000000001", channel="sms", test=False)
    engine.dispose()
    owed = Inbox(tmp_path / "inbox", box_for("", "cli-secret"))  # a process that still owes one message
    owed.received(Inbound(sid="SMowed", channel="sms", address="+5215512345678", text="hola"))
    result = run("inbox", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 not answered yet (its process runs)" in result.stdout
    assert "1 messages in the journals; 1 answered late or not at all" in result.stdout
    assert "failed  SMfailed000000000000000000000001" in result.stdout
    assert "+5215512345678" not in result.stdout
    owed.close()


def test_content_report_lists_entries_and_untested_numbers(tmp_path: Path) -> None:
    result = run("content", "report", "--csv", "out/c.csv", "--html", "out/c.html", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Specific entries (published / draft" in result.stdout and "not call-tested" in result.stdout
    entries = (tmp_path / "out" / "entries.csv").read_text().splitlines()
    assert entries[0] == "scope,id,topic,status,languages,evidence,sources,unbacked,stale"
    assert any(line.startswith("MX,mx-") for line in entries)
    assert (tmp_path / "out" / "numbers.csv").read_text().startswith("country,where,service,number,status")
    assert "Specific entries" in (tmp_path / "out" / "c.html").read_text()


def test_content_preview_and_sources(tmp_path: Path) -> None:
    from app.config import ROOT
    from app.knowledge.loader import load_content

    some = next(e for e in load_content(ROOT / "content").entries["MX"].model.entries if e.status == "published")
    sms = run("content", "preview", some.id, "--language", "es", "--channel", "sms", tmp_path=tmp_path)
    assert sms.returncode == 0 and "segment(s)" in sms.stdout
    assert run("content", "preview", "mx-nope", tmp_path=tmp_path).returncode == 1
    check = run("content", "sources", "--check", tmp_path=tmp_path)
    assert check.returncode == 0 and "is up to date" in check.stdout
