"""Danger first: words that mean someone is in danger now, in the six languages, typed as people type."""

import re

from app.text import fold, words_pattern

# Stems, matched on accent-free lower-case text at word starts.
DANGER_STEMS = (
    # es / pt
    "secuestr", "sequestr", "me tienen encerrad", "nos tienen encerrad", "encerrad", "perdid en la selva",
    "perdidos en la selva", "perdido en la selva", "perdidos en el monte", "me quieren matar", "nos quieren matar",
    "me estan golpeando", "me pegan", "me violaron", "violacion", "violaram", "estupro", "nos asaltaron",
    "me asaltaron", "me amenazan", "amenazas de muerte", "me obligan a trabajar", "nos obligan a trabajar",
    "trabajo forzado", "auxilio", "socorro", "estamos perdidos", "estou perdido", "estamos perdidos na selva",
    "nao me deixam sair", "no me dejan salir", "no nos dejan salir", "disparos", "balacera", "me robaron",
    # en
    "kidnap", "abduct", "lost in the jungle", "we are lost", "were lost", "im lost", "i am lost", "held hostage",
    "they wont let me leave", "they won't let me leave", "forced to work", "forcing me", "rape", "raped",
    "beating me", "they beat", "going to kill", "want to kill", "shooting", "robbed", "in danger",
    # fr
    "enleve", "kidnappe", "sequestre", "perdu dans la jungle", "perdus dans la foret", "on est perdus",
    "ils veulent me tuer", "viol", "on m'oblige a travailler", "ils me frappent", "en danger", "au secours",
    # ht
    "kidnape", "yo kidnape", "mwen an danje", "nou an danje", "an danje", "pedi nan rak bwa", "pedi nan forè",
    "pedi nan fore", "nou pedi", "m pedi", "yo vle touye", "yo bat mwen", "yo kenbe m", "yo fose m travay",
    "vyole", "anmwe", "sekou",
    # nl
    "ontvoerd", "gekidnapt", "verdwaald in het bos", "we zijn verdwaald", "ze willen me vermoorden",
    "verkracht", "gedwongen te werken", "in gevaar", "help mij", "ze slaan me",
)


def _plain(text: str) -> str:
    return " ".join(fold(text).split())


_PATTERN = re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(_plain(s)) for s in DANGER_STEMS) + ")")


# Violence and threats at home, as they are said while they go on (whole words: "me golpearon en mi país" is a
# past told for asylum, "se a migração me pegar" is being caught)
BEATEN = (
    "me pega", "me pegan", "me esta pegando", "me golpea", "me golpean", "me maltrata",  # es
    "me bate", "me batendo", "me espanca", "me agride",  # pt
    "beats me", "hits me", "hitting me", "beat me up",  # en
    "me frappe", "il me bat", "me battait", "bat mwen",  # fr, ht
    "slaat me", "slaat mij", "mishandelt me", "mishandelt mij",  # nl
    # threats, as they go on ("me amenazaron en mi país" is a past told for asylum)
    "me amenaza", "me esta amenazando", "me ameaca", "me ameacando", "threatens me", "threatening me",
    "me menace", "ap menase m", "ap menase mwen", "bedreigt me", "bedreigt mij",
)
_BEATEN = words_pattern(_plain(w) for w in BEATEN)


def in_danger(text: str) -> bool:
    """True when a message says someone is in danger now, is beaten at home, or speaks of sexual violence (care
    cannot wait)."""
    plain = _plain(text).replace("’", "'")  # folded once for the three patterns
    return bool(_PATTERN.search(plain) or _BEATEN.search(plain) or _SEXUAL.search(plain))


# Sexual violence, whose care (medicines against HIV and pregnancy) works only in the first hours: whole words,
# a trailing "-" marks a stem ("violaci-": violacion, violación).
SEXUAL_VIOLENCE = (
    "violaron", "violo", "violada", "violado", "violaci-", "abuso sexual", "abusaron de mi", "agresion sexual",
    "violaram", "estupr-", "rape", "raped", "sexual assault", "sexually assaulted", "viol", "violee", "viole",
    "violer", "agression sexuelle", "abus sexuel", "vyole", "vyolans seksyel", "kadejak", "verkracht", "aanranding",
    "seksueel misbruik",
)
_SEXUAL = words_pattern(_plain(w) for w in SEXUAL_VIOLENCE)


def sexual_violence(text: str) -> bool:
    """True when a message speaks of sexual violence (rape, sexual assault)."""
    return bool(_SEXUAL.search(_plain(text)))
