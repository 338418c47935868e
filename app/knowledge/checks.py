"""Checks beyond the schema: references between files, required languages and lengths."""

from app.knowledge.loader import Problem, RawContent, line_of


def check(raw: RawContent) -> list[Problem]:
    """Every problem of the content, errors and warnings, in file order."""
    problems = list(raw.problems)
    topic_ids = {t.id for t in raw.topics.model.topics} if raw.topics else set()
    for key, doc in raw.answers.items():
        if key != "regional" and key not in raw.countries:
            problems.append(Problem(doc.path, 1, f"unknown country {key!r}",
                                    "name the file after a country of content/countries/"))
        for i, entry in enumerate(doc.model.answers):
            if entry.topic not in topic_ids:
                problems.append(Problem(doc.path, line_of(doc.node, ("answers", i, "topic")),
                                        f"unknown topic {entry.topic!r}", "use a topic id of content/topics.yaml"))
    return problems
