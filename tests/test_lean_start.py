"""A webhook process loads only what answering messages needs: the trained engine and the entries' index come from
the cache as plain arrays, and the console's, the queue's and the migrations' libraries stay out until used."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import BASE, ROOT, make_settings, settings_env, sign

LATER = ("sklearn", "scipy", "jinja2", "huey", "redis", "alembic", "twilio.rest", "requests")  # training, console,
# queue, migrations, messages sent first (a webhook answers in TwiML)
ANSWER = """
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from app.config import Settings
from app.main import create_app
form = json.loads(sys.argv[1])
with TestClient(create_app(Settings()), base_url={base!r}) as client:
    reply = client.post("/webhooks/twilio", data=form, headers={{"x-twilio-signature": sys.argv[2]}})
    assert reply.status_code == 200 and "<Message>" in reply.text, reply.text
    loaded = [name for name in {later!r} if name in sys.modules]
    if len(sys.argv) > 3:  # an editor changes content/: the new index is built in a child process
        entries = Path(sys.argv[3]) / "entries" / "regional.yaml"
        entries.write_text(entries.read_text().replace("reviewer: Migrantinfo content team",
                                                       "reviewer: Migrantinfo content  team", 1))
        knowledge = client.app.state.knowledge
        old = knowledge.get().version
        knowledge.reload()
        assert knowledge.get().version != old
        knowledge.get().warm()
        assert knowledge.get().search_entries("necesito pedir asilo", "MX")
        loaded += [name for name in {later!r} if name in sys.modules]
    client.get("/console/login")
    print(json.dumps({{"before": loaded, "after": [n for n in {later!r} if n in sys.modules]}}))
"""


def test_a_webhook_process_loads_no_training_console_queue_or_migration_library(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'test.db'}", content_watch_seconds=0)
    with TestClient(create_app(settings), base_url=BASE):  # trains (or finds) the engine and index, migrates
        pass
    form = {"MessageSid": "SM" + "1" * 32, "AccountSid": "AC" + "0" * 32, "From": "+5215512345678",
            "To": "+5215500000000", "Body": "necesito pedir asilo en mexico", "NumMedia": "0"}
    code = ANSWER.format(base=BASE, later=LATER)
    done = subprocess.run([sys.executable, "-c", code, json.dumps(form), sign(BASE + "/webhooks/twilio", form)],
                          cwd=ROOT, env=settings_env(settings), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert modules["before"] == []  # a message answered: none of them
    assert "jinja2" in modules["after"]  # a console page: its templates then


def test_a_changed_content_index_is_built_in_a_child_process(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    settings = make_settings(f"sqlite:///{tmp_path / 'test.db'}", content_watch_seconds=0, content_dir=content,
                             content_snapshot_dir=tmp_path / "snapshots")
    with TestClient(create_app(settings), base_url=BASE):  # the first index: on disk before the process starts
        pass
    form = {"MessageSid": "SM" + "2" * 32, "AccountSid": "AC" + "0" * 32, "From": "+5215512345679",
            "To": "+5215500000000", "Body": "necesito pedir asilo en mexico", "NumMedia": "0"}
    code = ANSWER.format(base=BASE, later=LATER)
    done = subprocess.run([sys.executable, "-c", code, json.dumps(form), sign(BASE + "/webhooks/twilio", form),
                           str(content)], cwd=ROOT, env=settings_env(settings), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # the new index was built and searched, and this process still has no scikit-learn: the child built it
    assert json.loads(done.stdout.strip().splitlines()[-1])["before"] == []
