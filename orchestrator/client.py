"""A small REST client for a running Hilum (``hilum ask --server``, load tests, scripts)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx

from orchestrator.errors import HilumError


class RemoteError(HilumError):
    """A Hilum server answered with an error; carries its HTTP status and kind."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(f"{status} {kind}: {message}")
        self.http_status = status
        self.kind = kind


class HilumClient:
    def __init__(self, base_url: str, *, api_key: str | None = None, tenant: str | None = None,
                 timeout_s: float = 120.0) -> None:
        """``api_key`` goes as ``Authorization: Bearer``; ``tenant`` (X-Hilum-Tenant) only counts on a
        loopback server without keys."""
        headers = {"X-Hilum-Tenant": tenant} if tenant else {}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, headers=headers)

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
                raise RemoteError(response.status_code, err.get("kind", "error"), err.get("message", ""))
            except (ValueError, KeyError, TypeError):
                raise RemoteError(response.status_code, "http", response.text[:200]) from None
        return response.json()

    def create_session(self, image: Path, lang: str | None = None, *, earlier: Path | None = None,
                       study_date: str | None = None, earlier_date: str | None = None) -> dict[str, Any]:
        """``earlier``: an earlier film of the same chest, uploaded with it to be compared."""
        data = {k: v for k, v in (("lang", lang), ("study_date", study_date), ("earlier_date", earlier_date)) if v}
        with contextlib.ExitStack() as stack:
            files = {"file": (image.name, stack.enter_context(image.open("rb")))}
            if earlier is not None:
                files["earlier"] = (earlier.name, stack.enter_context(earlier.open("rb")))
            return self._json(self.http.post("/v1/sessions", files=files, data=data))

    def ask(self, session_id: str, question: str) -> dict[str, Any]:
        return self._json(self.http.post(f"/v1/sessions/{session_id}/turns", json={"question": question}))

    def report(self, session_id: str) -> dict[str, Any]:
        return self._json(self.http.get(f"/v1/sessions/{session_id}/report"))

    def close_session(self, session_id: str) -> None:
        self._json(self.http.delete(f"/v1/sessions/{session_id}"))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HilumClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
