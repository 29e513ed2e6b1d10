"""The narrator's prompt, laid out so that every turn of a session shares a byte-identical prefix.

Layout of the chat messages (``/v1/chat/completions``)::

    system     SYSTEM_TEXT + the session's image facts (canonical JSON)     ┐ identical for
    user       turn 1: question + facts                                    │ every turn of
    assistant  turn 1: the answer that was shown                           │ the session:
    ...        (every earlier turn, in order)                              ┘ vLLM's prefix cache
    user       this turn: question + facts, then the draft and the instruction

The system text is one bilingual constant (the reply language is asked for in the last
message only), so a session that switches language mid-way keeps its prefix. The earlier
turns' user messages are exactly the opening of the message each of them ended with, so the
cached prefix even runs into the last message of the previous request.

Facts are serialised with ``canonical_json`` after ``prompt_facts`` drops what a language model
cannot use (pixel geometry, overlays, image data) — deterministic, so the bytes never drift.
Build ``PriorTurn.facts_json`` with ``turn_facts_json`` to keep that property.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.narration.base import NarrationRequest

PROMPT_VERSION = "hilum-narrator-prompt/1"

SYSTEM_TEXT = (
    f"[{PROMPT_VERSION}]\n"
    "You are the narrator of Hilum, a reading aid for frontal chest radiographs. "
    "Each user message gives a question, the structured facts established for it, and a draft "
    "answer written from those facts. Retell the draft fluently in the language asked for. "
    "Use only the facts given: never add, change or round differently a number, a side "
    "(left/right), a lobe, a sign's status (yes/no/uncertain) or an anchor id (A1, A2, ...). "
    "Keep every anchor id as written. Never state a diagnosis; you support a reader, you do "
    "not replace one. Answer in plain prose, without headings.\n"
    "你是 Hilum 的叙述者。每条用户消息给出问题、已确定的结构化事实和据此写成的草稿。"
    "请用要求的语言流畅地复述草稿,只使用给出的事实:不得增加或改动任何数字、左右侧、肺叶、"
    "征象状态(是/否/不确定)或锚点编号(A1、A2……)。不得给出诊断。"
)

IMAGE_FACTS_HEADER = "\n\nImage facts (JSON) / 影像事实:\n"

LANGUAGE_INSTRUCTION = {
    "en": "Retell the draft in English.",
    "zh": "请用中文复述草稿。",
}

# keys a language model cannot use: pixel geometry, drawing layers, embedded images, and the
# salt (which never belongs in a prompt)
_DROPPED_KEYS = frozenset(
    {"overlays", "polygon", "polygon_px", "lesion_heatmap_png", "heatmap", "cache_salt", "answer"}
)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def prompt_facts(value: Any) -> Any:
    """``value`` without the keys a language model cannot use (recursively)."""
    if isinstance(value, dict):
        return {
            k: prompt_facts(v)
            for k, v in value.items()
            if k not in _DROPPED_KEYS and not str(k).endswith("_px")
        }
    if isinstance(value, list | tuple):
        return [prompt_facts(v) for v in value]
    return value


def turn_facts_json(turn_facts: dict[str, Any]) -> str:
    """The canonical facts of one turn as they appear in the prompt (use it for PriorTurn.facts_json)."""
    return canonical_json(prompt_facts(turn_facts))


def image_facts_block(image_facts_json: str) -> str:
    """The session's image facts, reduced and re-serialised canonically (deterministic)."""
    try:
        parsed = json.loads(image_facts_json)
    except ValueError:
        return image_facts_json
    return canonical_json(prompt_facts(parsed))


def turn_block(question: str, facts_json: str) -> str:
    """One turn's question and facts: an earlier turn's whole user message, this turn's opening."""
    return f"Question / 问题:\n{question}\nFacts / 事实:\n{facts_json}"


def final_message(request: NarrationRequest) -> str:
    instruction = LANGUAGE_INSTRUCTION.get(request.lang, LANGUAGE_INSTRUCTION["en"])
    return (
        turn_block(request.question, turn_facts_json(request.turn_facts))
        + f"\nDraft / 草稿:\n{request.composer_text}\n{instruction}"
    )


def build_messages(request: NarrationRequest) -> list[dict[str, str]]:
    """The chat messages of one narration request, in the prefix-stable layout above."""
    messages = [{"role": "system", "content": SYSTEM_TEXT + IMAGE_FACTS_HEADER + image_facts_block(request.image_facts_json)}]
    for prior in request.prior_turns:
        messages.append({"role": "user", "content": turn_block(prior.question, prior.facts_json)})
        messages.append({"role": "assistant", "content": prior.answer_text})
    messages.append({"role": "user", "content": final_message(request)})
    return messages


def render_prompt(messages: list[dict[str, str]]) -> str:
    """A neutral flat rendering of messages (role-tagged), for byte-level prefix comparisons."""
    return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages)
