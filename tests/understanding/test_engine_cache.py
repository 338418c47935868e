"""The trained embedded engine kept on disk: trained once for all processes, trained again when its inputs change."""

import shutil
from pathlib import Path

import pytest

from app.config import ROOT
from app.understanding import router

TEXT = "necesito pedir asilo"


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, list[Path]]:
    """Small training data (quick to train): two NLU files, the topics and one answers file; and the trainings run."""
    nlu = tmp_path / "bot" / "data" / "nlu"
    nlu.mkdir(parents=True)
    for language, examples in (("es", ("hola", "buenos días", "necesito pedir asilo", "quiero refugio")),
                               ("en", ("hello", "good morning", "i need asylum", "i want refuge"))):
        lines = "".join(f"    - {text}\n" for text in examples)
        (nlu / f"{language}.yml").write_text(f"nlu:\n- intent: greet\n  examples: |\n{lines}", encoding="utf-8")
    content = tmp_path / "content"
    (content / "answers").mkdir(parents=True)
    shutil.copy(ROOT / "content" / "topics.yaml", content)
    shutil.copy(ROOT / "content" / "answers" / "MX.yaml", content / "answers")
    trainings: list[Path] = []
    real = router._train

    def counted(nlu_dir: Path, content_dir: Path) -> router.Models:
        trainings.append(nlu_dir)
        return real(nlu_dir, content_dir)

    monkeypatch.setattr(router, "_train", counted)
    return nlu, content, trainings


def trained(nlu: Path, content: Path, cache: Path) -> router.Models:
    """As a new process would: without the in-process cache."""
    return router._trained.__wrapped__(nlu, content, router._fingerprint(nlu), cache)


def test_the_first_process_trains_and_the_next_ones_load(inputs: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    nlu, content, trainings = inputs
    cache = tmp_path / "cache"
    first = trained(nlu, content, cache)
    assert len(trainings) == 1 and len(list(cache.glob("engine-*.pickle"))) == 1
    again = trained(nlu, content, cache)
    assert len(trainings) == 1, "the second process loads the engine the first trained"
    assert again[2] == first[2]
    assert again[0].classify(TEXT) == first[0].classify(TEXT)
    assert again[1].detect(TEXT) == first[1].detect(TEXT)
    assert not list(cache.glob("*.tmp"))


def test_a_change_of_the_training_data_trains_again(inputs: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    nlu, content, trainings = inputs
    cache = tmp_path / "cache"
    before = trained(nlu, content, cache)
    es = nlu / "es.yml"
    es.write_text(es.read_text(encoding="utf-8") + "- intent: greet\n  examples: |\n    - buenas buenas\n",
                  encoding="utf-8")
    after = trained(nlu, content, cache)
    assert len(trainings) == 2 and after[2] == before[2] + 1, "a new NLU example is learnt, not loaded stale"
    topics = content / "topics.yaml"
    topics.write_text(topics.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    trained(nlu, content, cache)
    assert len(trainings) == 3, "a change of the content it learns from trains again"
    assert len(list(cache.glob("engine-*.pickle"))) == 3


def test_a_damaged_file_is_trained_again_and_replaced(inputs: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    nlu, content, trainings = inputs
    cache = tmp_path / "cache"
    trained(nlu, content, cache)
    [kept] = cache.glob("engine-*.pickle")
    kept.write_bytes(kept.read_bytes()[:1000])
    models = trained(nlu, content, cache)
    assert len(trainings) == 2 and models[0].classify(TEXT)
    trained(nlu, content, cache)
    assert len(trainings) == 2, "the damaged file was replaced by a whole one"


def test_an_unwritable_cache_still_answers(inputs: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    nlu, content, trainings = inputs
    cache = tmp_path / "not-a-folder"
    cache.write_text("a file where the folder should be")
    models = trained(nlu, content, cache)
    assert len(trainings) == 1 and models[2] > 0
