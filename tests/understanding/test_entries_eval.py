"""The held-out specific questions: their shape, that they are really held out, and the figures they give."""

from collections import Counter
from pathlib import Path

import pytest

from app.config import ROOT
from app.i18n import LANGUAGES
from app.knowledge.base import KnowledgeBase
from app.knowledge.loader import load_content
from app.text import fold
from app.understanding.entry_eval import read_questions
from app.understanding.training import read_folder, read_nlu

QUESTIONS = ROOT / "tests" / "data" / "entries_test.yml"
# written later, without looking at the first set nor tuning anything on it: the figures an untouched set gives
SECOND = ROOT / "tests" / "data" / "entries_test2.yml"
# written by a helper that saw the entries' texts only (no asks, no training data, no other set)
THIRD = ROOT / "tests" / "data" / "entries_test3.yml"
# measured 0.968 and 0.953 with the classifier's second look (0.950 and 0.940 without; 0.904 and 0.873 on 2026-12-01)
FIRST_FLOOR, SECOND_FLOOR = 0.90, 0.90
# measured 0.956, 0.950 without the classifier (the dialogue, `migrantinfo eval`: 0.883 untouched, 0.939 now)
THIRD_FLOOR = 0.90
# the languages with fewer asks only (pt, nl, fr, ht), written by a helper that saw the entries' texts only, before
# 2,645 asks were added in those languages: measured 0.869 without them, 0.912 with them (the dialogue)
FOURTH = ROOT / "tests" / "data" / "entries_test4.yml"
FOURTH_FLOOR = 0.90  # the index alone: 0.968 (0.943 without the classifier's second look)
FOURTH_LANGUAGES = ("fr", "ht", "pt", "nl")
HELD_OUT = pytest.mark.parametrize("path, at_least, languages", [
    (QUESTIONS, 200, LANGUAGES), (SECOND, 150, LANGUAGES), (THIRD, 180, LANGUAGES), (FOURTH, 150, FOURTH_LANGUAGES)],
    ids=["first", "second", "third", "fourth"])


def plain(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in fold(text)).split())


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase(load_content(ROOT / "content"), locales_dir=ROOT / "locales")


@HELD_OUT
def test_the_held_out_questions_cover_every_language_and_published_entries(kb: KnowledgeBase, path: Path,
                                                                            at_least: int, languages: tuple) -> None:
    questions = read_questions(path)
    assert len(questions) >= at_least
    per_language = Counter(q.language for q in questions)
    assert all(per_language[language] >= 20 for language in languages), per_language
    for q in questions:
        assert q.entry in kb.entries, q.entry  # published
        assert kb.entry_scope[q.entry] in (None, q.country), q


@HELD_OUT
def test_no_held_out_question_is_an_ask_or_a_training_example(kb: KnowledgeBase, path: Path, at_least: int,
                                                              languages: tuple) -> None:
    seen = {plain(ask) for entry in load_content(ROOT / "content").entries.values()
            for e in entry.model.entries for asks in e.asks.values() for ask in asks}
    seen |= {plain(e.text) for e in read_folder(ROOT / "bot" / "data" / "nlu")}
    seen |= {plain(e.text) for e in read_nlu(ROOT / "tests" / "data" / "nlu_test.yml")}
    leaked = [q.text for q in read_questions(path) if plain(q.text) in seen]
    assert not leaked, leaked


@pytest.mark.parametrize("path, floor", [(QUESTIONS, FIRST_FLOOR), (SECOND, SECOND_FLOOR), (THIRD, THIRD_FLOOR),
                                         (FOURTH, FOURTH_FLOOR)], ids=["first", "second", "third", "fourth"])
def test_retrieval_on_the_held_out_questions(kb: KnowledgeBase, path: Path, floor: float) -> None:
    """The entries' index alone: the person's country and a country the message names (the dialogue searches
    them together when the named one alone has no answer).
    The floors are the measured figures less a margin: a fall below one is a regression."""
    questions = read_questions(path)
    right = 0
    for q in questions:
        matches = kb.entry_index.search(q.text, (q.country, kb.country_in_text(q.text)))
        right += bool(matches) and matches[0].entry == q.entry
    assert right / len(questions) >= floor
