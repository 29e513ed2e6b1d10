"""The parser's memo and indices change no answer.

``parse`` memoises ``parse_uncached`` for the default vocabulary (a bounded LRU keyed by the question text);
that is safe only because a ``Query`` is deeply immutable, which is checked here from its type hints and
from every answer on the dev question set. The term indices and the typo shortcut are checked against the
plain definitions they replace (``find_term`` over every term; ``difflib`` over the whole lexicon).
The held-out v2 set (kept out of tuning) is not read here."""

from __future__ import annotations

import dataclasses
import difflib
import json
import random
import types
import typing
from pathlib import Path

import pytest

from orchestrator.dialogue import parser as P
from orchestrator.dialogue.parser import Query, load_vocabulary, parse, parse_uncached

DATA = Path(__file__).resolve().parent / "data"
DEV_FILES = sorted(p for p in DATA.glob("questions*.jsonl") if p.name != "questions_heldout_v2.jsonl")


def _dev_questions() -> list[str]:
    out: list[str] = []
    for path in DEV_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["q"])
    return out


DEV = _dev_questions()
ODD = ["", " ", "?", "A1", "f12 and a3", "Ｒｉｇｈｔ　ｌｕｎｇ", "这个nodule的margin规则吗?", "x" * 2000, "肺" * 2000,
       ("is the nodule in the right upper lobe bigger than 1 cm? " * 40)[:2000]]


def _immutable(value: object) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    return type(value) is tuple and all(_immutable(v) for v in value)


def test_dev_set_is_there() -> None:
    assert len(DEV) >= 600 and all(p.name != "questions_heldout_v2.jsonl" for p in DEV_FILES)


def test_memo_gives_what_the_uncached_parser_gives_on_the_dev_set() -> None:
    P._parse_memo.cache_clear()
    for q in DEV + ODD:
        first = parse(q)
        assert first == parse_uncached(q), q
        assert repr(first) == repr(parse_uncached(q)), q
        assert parse(q) is first  # the second time comes from the memo


def test_equal_text_gives_an_equal_query() -> None:
    for q in DEV[::7] + ODD:
        copy = "".join(list(q))  # an equal string, not the same object
        assert parse(copy) == parse(q) and hash(parse(copy)) == hash(parse(q))


def test_an_explicit_vocabulary_gives_the_same_answer() -> None:
    v = load_vocabulary()
    for q in DEV[::11]:
        assert parse(q, v) == parse(q)


def test_query_fields_are_typed_immutable() -> None:
    assert Query.__dataclass_params__.frozen  # type: ignore[attr-defined]
    allowed = {str, int, float, bool, type(None)}

    def ok(tp: object) -> bool:
        if tp in allowed:
            return True
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            return all(ok(a) for a in typing.get_args(tp))
        if origin is tuple:
            return all(a is Ellipsis or ok(a) for a in typing.get_args(tp))
        return False

    hints = typing.get_type_hints(Query)
    for f in dataclasses.fields(Query):
        assert ok(hints[f.name]), f"Query.{f.name}: {hints[f.name]} is not deeply immutable"


def test_every_query_is_deeply_immutable_and_hashable() -> None:
    for q in DEV + ODD:
        answer = parse(q)
        for f in dataclasses.fields(answer):
            assert _immutable(getattr(answer, f.name)), (q, f.name, getattr(answer, f.name))
        hash(answer)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse(DEV[0]).intent = "screen"  # type: ignore[misc]


def _texts() -> list[str]:
    v = load_vocabulary()
    rng = random.Random(7)
    texts = [P.correct_typos(P.normalise(q), v.lexicon) for q in DEV]
    texts += [t[rng.randrange(len(t) + 1):] for t in texts[::5] if t]
    return texts + [P.normalise(q) for q in ODD]


def _plain_found(text: str, table: dict[str, tuple[str, ...]]) -> list[tuple[str, list[int]]]:
    return [(k, pos) for k, terms in table.items() for t in terms if (pos := P.find_term(text, t))]


def test_term_indices_find_what_find_term_finds() -> None:
    v = load_vocabulary()
    ix = v.index
    tables = {"sides": v.sides, "anatomy": v.anatomy, "lobes": v.lobes, "zones": v.zones, "bands": v.bands,
              "descriptors": v.descriptors, "ordinals": v.ordinals, "checklists": v.checklists,
              "relative_positions": v.relative_positions, "sign_terms": v.sign_terms}
    for text in _texts():
        for name, table in tables.items():
            got = [(payload if isinstance(payload, str) else payload[0], pos) for payload, pos in
                   getattr(ix, name).found(text)]
            assert got == _plain_found(text, table), (name, text)
        refs = (*v.references, *v.other_reference, *v.both_reference)
        assert [t for t, _ in ix.references.found(text)] == [t for t in refs if P.find_term(text, t)]
        intents = [(i, w) for i, kw in v.intents.items() for t, w in kw if P.find_term(text, t)]
        assert [p for p, _ in ix.intents.found(text)] == intents
        for name, terms in v.cues.items():
            if isinstance(terms, list):
                assert ix.cue(name).any_in(text) == P.has_term(text, tuple(terms)), (name, text)


def test_sign_term_is_the_first_longest_name() -> None:
    v = load_vocabulary()

    def plain(text: str) -> str | None:
        best: tuple[int, str] | None = None
        for sign_id, names in v.terms.items():
            for name in names:  # (an English name under four letters only as an abbreviation: "GGO", "TB")
                n = name.lower()
                if len(n) < 2 or (not P._CJK.search(n) and len(n) < 4 and not name.isupper()):
                    continue
                if P.find_term(text, n) and (best is None or len(n) > best[0]):
                    best = (len(n), sign_id)
        return best[1] if best else None

    for text in _texts():
        assert P.find_sign_term(text, v) == plain(text), text


def test_typo_correction_is_what_difflib_gives_over_the_whole_lexicon() -> None:
    lexicon = load_vocabulary().lexicon
    choices = sorted(lexicon)
    rng = random.Random(11)
    words = sorted({w for q in DEV for w in P._LATIN_WORD.findall(P.normalise(q)) if len(w) >= 4})
    typos = []
    for w in choices[::3]:  # one edit away from a lexicon word: a swap, a drop, a double
        i = rng.randrange(len(w) - 1)
        typos += [w[:i] + w[i + 1] + w[i] + w[i + 2:], w[:i] + w[i + 1:], w[:i] + w[i] + w[i:]]
    for word in words + typos + ["x" * 300]:
        if word in lexicon:
            continue
        cutoff = 0.84 if len(word) < 7 else 0.8
        close = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
        assert P._closest_word(word, lexicon) == (close[0] if close else word), word
