"""The foundation: the console script, the settings object, the error hierarchy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from orchestrator import errors
from orchestrator.settings import Settings


def test_hilum_help_lists_the_subcommands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("phantom", "train", "evaluate", "export", "triton", "serve", "ask", "status"):
        assert command in out, f"'hilum {command}' missing from --help"


def test_settings_read_the_hilum_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HILUM_PORT", "9999")
    monkeypatch.setenv("HILUM_ENCODER", "triton://127.0.0.1:8001")
    settings = Settings()
    assert settings.port == 9999
    assert settings.encoder == "triton://127.0.0.1:8001"
    assert Settings(port=1234).port == 1234


@pytest.mark.parametrize(
    ("exc", "http", "grpc_code"),
    [
        (errors.UnsupportedMediaError, 415, "INVALID_ARGUMENT"),
        (errors.ImageTooLargeError, 413, "RESOURCE_EXHAUSTED"),
        (errors.CorruptImageError, 422, "INVALID_ARGUMENT"),
        (errors.InvalidQuestionError, 422, "INVALID_ARGUMENT"),
        (errors.SessionNotFoundError, 404, "NOT_FOUND"),
        (errors.UnauthenticatedError, 401, "UNAUTHENTICATED"),
        (errors.RateLimitedError, 429, "RESOURCE_EXHAUSTED"),
        (errors.UploadsBusyError, 429, "RESOURCE_EXHAUSTED"),
        (errors.TenantQuotaError, 429, "RESOURCE_EXHAUSTED"),
        (errors.EncoderOverloadedError, 429, "RESOURCE_EXHAUSTED"),
    ],
)
def test_every_error_carries_its_statuses(exc: type[errors.HilumError], http: int, grpc_code: str) -> None:
    err = exc("message for the caller")
    assert isinstance(err, errors.HilumError)
    assert (err.http_status, err.grpc_code, err.message) == (http, grpc_code, "message for the caller")
