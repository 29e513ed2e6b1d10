"""Choosing the narrator from the settings: the composer unless vLLM URLs are configured."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from orchestrator.narration.base import ComposerNarrator, Narrator
from orchestrator.narration.metrics import NarratorMetrics
from orchestrator.narration.vllm import VLLMConfig, VLLMNarrator
from orchestrator.settings import Settings


def vllm_config(settings: Settings) -> VLLMConfig:
    return VLLMConfig(
        urls=tuple(settings.llm_urls),
        model=settings.llm_model,
        salt_key=settings.cache_salt_key,
        deadline_s=settings.llm_deadline_s,
        max_tokens=settings.llm_max_tokens,
        connect_timeout_s=settings.llm_connect_timeout_s,
        max_attempts=settings.llm_max_attempts,
        backoff_s=settings.llm_backoff_s,
        breaker_failures=settings.llm_breaker_failures,
        breaker_reset_s=settings.llm_breaker_reset_s,
    )


def build_narrator(
    settings: Settings,
    registry: CollectorRegistry | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> Narrator:
    """``ComposerNarrator`` when ``settings.llm_urls`` is empty, else a ``VLLMNarrator`` whose
    ``NarratorMetrics`` are registered on ``registry`` (a private one when None)."""
    urls = [u.strip() for u in settings.llm_urls if u.strip()]
    if not urls:
        return ComposerNarrator()
    config = vllm_config(settings.model_copy(update={"llm_urls": urls}))
    return VLLMNarrator(config, metrics=NarratorMetrics(registry), transport=transport)


def narrator_status(settings: Settings, *, transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """For ``hilum status``: the configured narrator's health, with each vLLM replica's state
    and vLLM's own prefix-cache hit rate (None until vLLM has counted a query)."""
    narrator = build_narrator(settings, transport=transport)
    try:
        return narrator.health()
    finally:
        close = getattr(narrator, "close", None)
        if close is not None:
            close()
