"""The n-grams and TF-IDF weights the loaded engines and index read a text as are exactly those of scikit-learn's
fitted vectorizers."""

import pickle
from pathlib import Path

import pytest
from pytest import approx
from sklearn.feature_extraction.text import TfidfVectorizer

from app.knowledge import ngrams
from app.knowledge.ngrams import Analyzer, TfIdf

ROOT = Path(__file__).resolve().parents[2]
TRAPS = ["", " ", "a", "ab  cd\t\tef\n g", "Ñandú ÉCOLE  mwen  bezwen", "xxx", "¿Dónde?  ¡Ayuda!", "l'OIM", "a-b_c 12"]


def lines() -> list[str]:
    """Every line of the training data and the entries: the texts the engines are fitted on and asked."""
    files = [*sorted((ROOT / "bot" / "data").rglob("*.yml")), *sorted((ROOT / "content" / "entries").glob("*.yaml"))]
    return [line for path in files for line in path.read_text().splitlines()] + TRAPS


@pytest.mark.parametrize("settings", [
    dict(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b"),
    dict(analyzer="word", ngram_range=(1, 3)),
    dict(analyzer="word", ngram_range=(2, 2)),
    dict(analyzer="char_wb", ngram_range=(3, 4)),
    dict(analyzer="char_wb", ngram_range=(2, 5)),
    dict(analyzer="char_wb", ngram_range=(1, 4)),
])
def test_the_same_ngrams_as_scikit_learn(settings: dict) -> None:
    vectorizer = TfidfVectorizer(**settings)
    theirs, ours = vectorizer.build_analyzer(), pickle.loads(pickle.dumps(Analyzer.like(vectorizer)))
    texts = lines()
    assert len(texts) > 5000
    assert [t for t in texts if ours(t) != theirs(t)] == []


@pytest.mark.parametrize("settings", [dict(analyzer="char"), dict(strip_accents="unicode"), dict(lowercase=False),
                                      dict(stop_words="english")])
def test_settings_it_does_not_reproduce_are_refused(settings: dict) -> None:
    with pytest.raises(ValueError):
        Analyzer.like(TfidfVectorizer(**settings))


@pytest.mark.parametrize("settings", [
    dict(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b"),
    dict(analyzer="char_wb", ngram_range=(2, 5)),
])
def test_the_same_weights_as_scikit_learn_read_ahead_again_and_after_forgetting(
        settings: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = lines()
    vectorizer = TfidfVectorizer(sublinear_tf=True, norm=None, min_df=2, **settings).fit(texts[::2])
    monkeypatch.setattr(ngrams, "KNOWN_WORDS", 300)  # the words kept are forgotten many times over
    ours = pickle.loads(pickle.dumps(TfIdf(vectorizer, offset=7, texts=texts[::2])))
    # the words said more than once in what it was fitted on are read already, up to half of what it keeps
    assert len(ours._known) == (150 if settings["analyzer"] == "char_wb" else 0)
    asked = texts[1::5] + ["aaaa aaaa aaaa", "Ñandú ÉCOLE ÉCOLE"]  # n-grams repeated in a word and across words
    theirs = vectorizer.transform(asked)
    for _reading in range(2):  # the first reading keeps the words, the second finds them
        for i, text in enumerate(asked):
            row = theirs[i]
            found, weights = ours(text)
            assert dict(zip(found.tolist(), weights.tolist(), strict=True)) == \
                approx({int(j) + 7: float(v) for j, v in zip(row.indices, row.data, strict=True)}), text
    if settings["analyzer"] == "char_wb":
        assert 0 < len(ours._known) <= 300
