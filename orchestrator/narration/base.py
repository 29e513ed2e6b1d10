"""The narrator seam: the engine composes an exact answer, a narrator may retell it fluently.

Two implementations: ``ComposerNarrator`` (embedded default: returns the composer's text)
and the vLLM narrator (OpenAI-compatible chat completions, prefix-cached per session).
The structured fields of a turn always come from the facts, never from a narrator.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class PriorTurn:
    question: str
    answer_text: str  # the text that was shown for that turn
    facts_json: str  # canonical JSON of that turn's facts


@dataclass(frozen=True)
class NarrationRequest:
    session_id: str
    lang: Literal["zh", "en"]
    image_facts_json: str  # canonical JSON (sorted keys, no spaces) of the session's ImageFacts
    prior_turns: tuple[PriorTurn, ...]
    question: str
    turn_facts: dict[str, Any]  # this turn's structured fields (intent, findings, measurements, checklist ...)
    composer_text: str  # the deterministic answer; the fallback and the guard's reference


@dataclass(frozen=True)
class NarrationResult:
    text: str
    source: Literal["composer", "llm"]
    fallback_reason: str | None = None  # set when an LLM was configured but the composer's text is used
    timings: dict[str, float] = field(default_factory=dict)


class Narrator(Protocol):
    name: str
    uses_history: bool  # reads ``prior_turns`` (the engine loads a session's earlier turns only then)

    def narrate(self, request: NarrationRequest) -> NarrationResult: ...

    def stream(self, request: NarrationRequest) -> Generator[str, None, NarrationResult | None]:
        """Yields text chunks; the concatenation is what ``narrate`` would return. A narrator that
        knows how its text came about (the language model's, or the composer's and why) returns
        that ``NarrationResult`` when the stream ends; None leaves the engine to tell the composer's
        text from its own."""
        ...

    def health(self) -> dict[str, Any]: ...


class ComposerNarrator:
    """The embedded default: the deterministic composer's text, unchanged."""

    name = "composer"
    uses_history = False  # its text is the composer's: earlier turns are not read
    in_process = True  # no I/O: a turn it narrates may run on the event loop

    def narrate(self, request: NarrationRequest) -> NarrationResult:
        return NarrationResult(text=request.composer_text, source="composer")

    def stream(self, request: NarrationRequest) -> Generator[str, None, NarrationResult | None]:
        yield request.composer_text
        return NarrationResult(text=request.composer_text, source="composer")

    def health(self) -> dict[str, Any]:
        return {"narrator": "composer", "ok": True}
