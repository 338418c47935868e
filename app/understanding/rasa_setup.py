"""The Rasa side: its own Python 3.10 environment, a model trained only when bot/ changed, and the server."""

import ctypes
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.config import ROOT

RASA_VERSION = "3.6.21"
# Outside the checkout, so a fresh clone (CI) reuses the environment and the models of earlier runs.
CACHE = Path(os.environ.get("MIGRANTINFO_CACHE", Path.home() / ".cache" / "migrantinfo"))
VENV = CACHE / f"venv-rasa-{RASA_VERSION}"
MODELS = CACHE / "rasa-models"


class RasaSetupError(RuntimeError):
    """Rasa cannot be prepared here; the message says what is missing and how to get it."""


def find_python310() -> str:
    """Python 3.10, which Rasa 3.6 needs: RASA_PYTHON, python3.10 on the PATH, or pyenv's."""
    candidates = [os.environ.get("RASA_PYTHON", "")]
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
        candidates += sorted(glob.glob(f"{root}/versions/3.10.*/bin/python3.10"), reverse=True)
    except (OSError, subprocess.CalledProcessError):
        pass
    candidates.append(shutil.which("python3.10") or "")
    for candidate in candidates:
        if candidate and Path(candidate).exists() and _is_python310(candidate):
            return candidate
    raise RasaSetupError("Rasa 3.6 needs Python 3.10, and none was found: install it (for example "
                         "`pyenv install 3.10`) or set RASA_PYTHON=/path/to/python3.10")


def _is_python310(candidate: str) -> bool:
    """A pyenv shim can exist and still not run: ask the interpreter itself."""
    try:
        result = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == "True"


def ensure_venv(*, quiet: bool = True) -> Path:
    """The Rasa environment, created once (about three minutes) in the cache."""
    stamp = VENV / f".rasa-{RASA_VERSION}"
    if stamp.exists():
        return VENV / "bin" / "rasa"
    python = find_python310()
    print(f"creating {VENV} with {python} and rasa=={RASA_VERSION} (once; a few minutes)", file=sys.stderr)
    if VENV.exists():
        shutil.rmtree(VENV)  # an earlier attempt that did not finish
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", *(["--quiet"] if quiet else [])]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, f"rasa=={RASA_VERSION}"], check=True)
    stamp.touch()
    return VENV / "bin" / "rasa"


def bot_fingerprint(bot_dir: Path) -> str:
    """A hash of everything training reads: config, domain, data and the pipeline's own components."""
    digest = hashlib.sha256(RASA_VERSION.encode())
    files = [bot_dir / "config.yml", bot_dir / "domain.yml", *sorted((bot_dir / "data").rglob("*.yml")),
             *sorted((bot_dir / "components").glob("*.py"))]
    for path in files:
        digest.update(str(path.relative_to(bot_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_model(bot_dir: Path = ROOT / "bot") -> Path:
    """The trained model for the current bot/, trained only when bot/ changed since the last training."""
    rasa = ensure_venv()
    name = f"migrantinfo-{bot_fingerprint(bot_dir)}"
    model = MODELS / f"{name}.tar.gz"
    if model.exists():
        return model
    print(f"training the Rasa model {name} (bot/ changed)", file=sys.stderr)
    MODELS.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(rasa), "train", "--fixed-model-name", name, "--out", str(MODELS)], cwd=bot_dir,
                   check=True, env=_rasa_env())
    for old in MODELS.glob("migrantinfo-*.tar.gz"):
        if old != model:
            old.unlink()
    return model


def _rasa_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
           "PYTHONWARNINGS": "ignore", **extra}
    env.pop("PYTHONPATH", None)
    return env


def start_server(model: Path, *, port: int, action_url: str, action_token: str, bot_dir: Path = ROOT / "bot",
                 log: Path | None = None) -> subprocess.Popen:
    """`rasa run` on 127.0.0.1:port with its HTTP API; returns once the model is loaded.

    Rasa calls the app's custom action at action_url with action_token (the app's Settings.action_token).
    """
    rasa = VENV / "bin" / "rasa"
    output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [str(rasa), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(port), "-m", str(model),
             "--endpoints", "endpoints.yml"],
            cwd=bot_dir, env=_rasa_env(ACTION_ENDPOINT_URL=action_url, ACTION_ENDPOINT_TOKEN=action_token), stdout=output, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent)
    finally:
        if not isinstance(output, int):  # a file, not DEVNULL
            output.close()  # the child keeps its own copy of the descriptor
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RasaSetupError(f"rasa run exited with {process.returncode}" + (f"; see {log}" if log else ""))
        try:
            status = httpx.get(f"http://127.0.0.1:{port}/status", timeout=2)
            if status.status_code == 200 and status.json().get("model_file"):
                return process
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop_server(process)
    raise RasaSetupError("rasa run did not load its model within 3 minutes")


def _die_with_parent() -> None:
    """In the child: the kernel ends Rasa when the app that started it dies, however it dies.

    uvicorn re-raises SIGTERM after its graceful shutdown, so a `finally` in the parent does not always run.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
