"""The last good content kept on disk: a restart over broken files serves it, and /readyz says why."""

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import ROOT
from app.knowledge import ContentError
from app.knowledge.live import LiveKnowledge
from app.knowledge.loader import load_content
from app.knowledge.snapshot import Snapshot
from app.main import create_app
from tests.conftest import BASE, make_settings

LOCALES = ROOT / "locales"
BROKEN = r"content/answers/MX.yaml:4: unknown topic 'asilo'"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A copy of content/ to break."""
    return Path(shutil.copytree(ROOT / "content", tmp_path / "content"))


def break_mexico(content: Path) -> None:
    path = content / "answers" / "MX.yaml"
    path.write_text(path.read_text().replace("topic: asylum", "topic: asilo", 1))


def kept(snapshots: Path) -> Path:
    folder = Snapshot(snapshots, name="content").latest()
    assert folder is not None
    return folder


def test_a_restart_over_broken_files_serves_the_snapshot(content: Path, tmp_path: Path) -> None:
    snapshots = tmp_path / "content-last-good"
    good = LiveKnowledge(content, locales_dir=LOCALES, snapshot_dir=snapshots).reload()
    break_mexico(content)
    restarted = LiveKnowledge(content, locales_dir=LOCALES, snapshot_dir=snapshots)
    with pytest.raises(ContentError) as refused:
        restarted.reload()
    assert BROKEN in str(refused.value) and restarted.last_error is refused.value
    assert restarted.ready and restarted.source == "snapshot" and restarted.get().version == good.version
    answer = restarted.get().answer("asylum", "MX", "es")
    assert answer is not None and "COMAR" in answer.sms
    (content / "answers" / "MX.yaml").write_text((ROOT / "content" / "answers" / "MX.yaml").read_text())
    assert restarted.reload().version == good.version and restarted.source == "content"
    assert restarted.last_error is None


def test_without_a_snapshot_nothing_is_served(content: Path, tmp_path: Path) -> None:
    break_mexico(content)
    for snapshots in (tmp_path / "never-written", None):
        restarted = LiveKnowledge(content, locales_dir=LOCALES, snapshot_dir=snapshots)
        with pytest.raises(ContentError, match="content/answers/MX.yaml"):
            restarted.reload()
        assert not restarted.ready and restarted.source is None


def test_invalid_content_never_overwrites_the_snapshot(content: Path, tmp_path: Path) -> None:
    snapshots = tmp_path / "content-last-good"
    live = LiveKnowledge(content, locales_dir=LOCALES, snapshot_dir=snapshots)
    good = live.reload()
    original = (content / "answers" / "MX.yaml").read_text()
    break_mexico(content)
    for knowledge in (live, LiveKnowledge(content, locales_dir=LOCALES, snapshot_dir=snapshots)):
        with pytest.raises(ContentError):
            knowledge.reload()
    assert (kept(snapshots) / "answers" / "MX.yaml").read_text() == original
    assert load_content(kept(snapshots)).version == good.version
    assert not list(snapshots.glob(".staging-*"))  # refused copies are not left behind


def test_each_good_version_replaces_the_snapshot_and_old_ones_go(content: Path, tmp_path: Path) -> None:
    snapshots = tmp_path / "content-last-good"
    live = LiveKnowledge(content, locales_dir=LOCALES, snapshot_dir=snapshots)
    versions = [live.reload().version]
    path = content / "answers" / "regional.yaml"
    for _ in range(3):  # harmless edits, each a new version
        path.write_text(path.read_text().replace("reviewer:", "reviewer: ", 1))
        versions.append(live.reload().version)
    assert len(set(versions)) == 4
    assert kept(snapshots) == snapshots / versions[-1] / "content"
    assert load_content(kept(snapshots)).version == versions[-1]
    assert sorted(p.name for p in snapshots.iterdir() if p.is_dir()) == sorted(versions[-2:])


def test_a_crash_while_copying_leaves_the_last_snapshot_whole(content: Path, tmp_path: Path) -> None:
    snapshots = tmp_path / "content-last-good"
    good = LiveKnowledge(content, locales_dir=LOCALES, snapshot_dir=snapshots).reload()
    half = snapshots / ".staging-crashed" / "content"  # what a process killed in the middle of a copy leaves
    (half / "answers").mkdir(parents=True)
    (half / "answers" / "MX.yaml").write_text("answers:\n  - topic: asy")
    break_mexico(content)
    restarted = LiveKnowledge(content, locales_dir=LOCALES, snapshot_dir=snapshots)
    with pytest.raises(ContentError):
        restarted.reload()
    assert restarted.source == "snapshot" and restarted.get().version == good.version


# ---- the app -------------------------------------------------------------------------------------------------

def test_readyz_after_a_restart_over_broken_files(database_url: str, content: Path, tmp_path: Path) -> None:
    settings = make_settings(database_url, content_dir=content, content_snapshot_dir=tmp_path / "content-last-good",
                             content_watch_seconds=0)
    with TestClient(create_app(settings), base_url=BASE) as client:
        first = client.get("/readyz").json()["knowledge"]
    assert first["served_from"] == "content" and first["content_dir"] == "valid" and first["errors"] == []
    break_mexico(content)
    with TestClient(create_app(settings), base_url=BASE) as client:  # the restart
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        knowledge = ready.json()["knowledge"]
        assert knowledge["version"] == first["version"] and knowledge["served_from"] == "snapshot"
        assert knowledge["content_dir"] == "invalid" and BROKEN in knowledge["errors"][0]
        reply = client.post("/api/v1/messages", json={"sender": "+5215512345678", "text": "ASILO MX",
                                                       "channel": "whatsapp"}).json()
        assert reply["understanding"]["topic"] == "asylum" and "COMAR" in reply["replies"][0]["text"]


def test_readyz_without_a_snapshot_is_not_ready(database_url: str, content: Path, tmp_path: Path) -> None:
    break_mexico(content)
    settings = make_settings(database_url, content_dir=content, content_snapshot_dir=tmp_path / "content-last-good",
                             content_watch_seconds=0)
    with TestClient(create_app(settings), base_url=BASE) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        knowledge = ready.json()["knowledge"]
        assert knowledge["version"] is None and knowledge["served_from"] is None
        assert knowledge["content_dir"] == "invalid" and BROKEN in knowledge["errors"][0]
