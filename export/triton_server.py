"""Start and stop the real ``tritonserver`` from the nvidia-pytriton wheel (``hilum triton``, tests, benchmarks).

How it starts here (see docs/DESIGN.md): a backend directory whose ``python/`` holds the wheel's
``backends/python/*`` plus the Python 3.11 stub (symlinks), the venv's ``bin/`` first on
``PATH`` (the stub takes its interpreter from the ``python3`` it finds there, so ``model.py``
sees numpy and onnxruntime), readiness polled on ``/v2/health/ready``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

STUB_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class TritonPorts:
    grpc: int = 8001
    http: int = 8000
    metrics: int = 8002

    @classmethod
    def free(cls) -> TritonPorts:
        return cls(grpc=free_port(), http=free_port(), metrics=free_port())


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytriton_root() -> Path:
    """``site-packages/pytriton/tritonserver`` located without importing pytriton."""
    return Path(str(metadata.distribution("nvidia-pytriton").locate_file("pytriton/tritonserver")))


def find_tritonserver(binary: Path | None = None) -> Path:
    path = binary or pytriton_root() / "bin" / "tritonserver"
    if not path.is_file():
        raise FileNotFoundError(f"tritonserver binary not found at {path} (is nvidia-pytriton installed?)")
    return path


def prepare_backend_dir(dest: Path) -> Path:
    """``dest/python/`` = the wheel's python backend + the stub for this interpreter (symlinks)."""
    root = pytriton_root()
    python_dir = dest / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for item in (root / "backends" / "python").iterdir():
        link = python_dir / item.name
        if not link.exists():
            link.symlink_to(item)
    stub = root / "python_backend_stubs" / STUB_PYTHON / "triton_python_backend_stub"
    if not stub.is_file():
        raise FileNotFoundError(f"no Python backend stub for Python {STUB_PYTHON} in {stub.parent}")
    link = python_dir / "triton_python_backend_stub"
    if not link.exists():
        link.symlink_to(stub)
    return dest


def server_env() -> dict[str, str]:
    """The environment tritonserver starts with: this venv's ``bin/`` first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


class TritonServer:
    """One tritonserver process on a model repository; a context manager that always stops it."""

    def __init__(
        self, model_repository: Path, ports: TritonPorts | None = None, *, binary: Path | None = None,
        log_path: Path | None = None, extra_args: tuple[str, ...] = (),
    ) -> None:
        self.model_repository = Path(model_repository).resolve()
        self.ports = ports or TritonPorts()
        self.binary = find_tritonserver(binary)
        self.extra_args = extra_args
        self._workdir = Path(tempfile.mkdtemp(prefix="hilum-triton-"))
        self.log_path = log_path or self._workdir / "tritonserver.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The tritonserver process id while it runs (its Python-backend stubs are its children)."""
        return None if self._process is None else self._process.pid

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.ports.grpc}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.metrics}/metrics"

    def command(self) -> list[str]:
        backends = prepare_backend_dir(self._workdir / "backends")
        return [
            str(self.binary),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={backends}",
            f"--grpc-port={self.ports.grpc}",
            f"--http-port={self.ports.http}",
            f"--metrics-port={self.ports.metrics}",
            "--allow-metrics=true",
            "--allow-gpu-metrics=false",
            "--strict-readiness=true",
            "--exit-on-error=true",
            "--backend-config=python,shm-default-byte-size=16777216",
            "--backend-config=python,shm-growth-byte-size=16777216",
            *self.extra_args,
        ]

    def start(self, timeout_s: float = 180.0) -> TritonServer:
        if self._process is not None:
            raise RuntimeError("tritonserver already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as sink:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                self.command(), stdout=sink, stderr=subprocess.STDOUT, env=server_env(), start_new_session=True
            )
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=1.0) as resp:  # noqa: S310
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"tritonserver exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            if self.is_ready():
                return
            time.sleep(0.25)
        raise TimeoutError(f"tritonserver not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait(self) -> int:
        return -1 if self._process is None else self._process.wait()

    def stop(self, timeout_s: float = 20.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # tritonserver drains and unloads on SIGTERM
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("tritonserver did not stop within %.0f s; killing it", timeout_s)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5.0)
        shutil.rmtree(self._workdir / "backends", ignore_errors=True)

    def __enter__(self) -> TritonServer:
        return self.start() if self._process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def read_metrics(metrics_url: str) -> dict[str, float]:
    """Triton's Prometheus text -> {"name{labels}": value}."""
    with urllib.request.urlopen(metrics_url, timeout=5.0) as resp:  # noqa: S310
        text = resp.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                values[key] = float(value)
    return values


def model_metric(metrics: dict[str, float], name: str, model: str) -> float:
    """Sum of ``name`` over the versions of ``model``."""
    return sum(v for k, v in metrics.items() if k.startswith(name + "{") and f'model="{model}"' in k)


def metrics_once_counted(metrics_url: str, model: str, before: dict[str, float], requests: int,
                         timeout_s: float = 30.0) -> dict[str, float]:
    """Triton's metrics once ``model``'s ``nv_inference_count`` has grown by ``requests`` over ``before``.
    Triton records a batch's statistics after its responses are sent, so a client that reads the
    metrics right after its last answer can see them before they are counted (seen on a loaded
    machine: an execution count of 0 for four answered requests)."""
    deadline = time.monotonic() + timeout_s
    base = model_metric(before, "nv_inference_count", model)
    while True:
        now = read_metrics(metrics_url)
        if model_metric(now, "nv_inference_count", model) - base >= requests or time.monotonic() > deadline:
            return now
        time.sleep(0.05)
