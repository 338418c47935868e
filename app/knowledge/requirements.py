"""What published content owes its readers: the languages each answer needs and how long a review lasts."""

STALE_DAYS = 180


def required_languages(country: str | None, topic: str) -> set[str]:
    """Languages an answer must have: es and en; fr and ht for Haiti and key regional topics; nl for Suriname."""
    needed = {"es", "en"}
    if country == "HT" or (country is None and topic in ("risks", "trafficking", "emergency")):
        needed |= {"fr", "ht"}
    if country == "SR":
        needed.add("nl")
    return needed


MIN_ASKS = 5  # phrasings per language of a specific entry


def entry_languages(country: str | None) -> set[str]:
    """Languages a published specific entry must have: es and en; fr and ht in Haiti; nl in Suriname."""
    needed = {"es", "en"}
    if country == "HT":
        needed |= {"fr", "ht"}
    if country == "SR":
        needed.add("nl")
    return needed
