"""Whole-message keywords, matched before any dialogue: opt-out, opt-in, help, erase, menu, more, language."""

from dataclasses import dataclass

from app.text import normalize

# kind -> language -> words (capitals, no accents). Twilio's own words come first in English.
KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "opt_out": {
        "en": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "STOP ALL"),
        "es": ("PARAR", "ALTO", "DETENER", "CANCELAR", "BAJA", "DESUSCRIBIR", "DARME DE BAJA"),
        "fr": ("ARRET", "ARRETER", "STOPPER", "DESABONNER", "DESINSCRIRE", "ANNULER"),
        "ht": ("KANPE", "SISPANN", "RETE", "ANILE", "DEZABONE"),
        "pt": ("PARE", "SAIR", "CANCELAR"),
        "nl": ("STOPPEN", "AFMELDEN", "UITSCHRIJVEN"),
    },
    "opt_in": {
        "en": ("START", "UNSTOP", "YES", "SUBSCRIBE"),
        "es": ("ALTA", "SUSCRIBIR", "COMENZAR", "REANUDAR"),
        "fr": ("DEMARRER", "REPRENDRE", "ABONNER"),
        "ht": ("KOMANSE", "REKOMANSE", "ABONE"),
        "pt": ("COMECAR", "RETOMAR"),
        "nl": ("AANMELDEN", "HERVATTEN"),
    },
    "help": {
        "en": ("HELP", "INFO"),
        "es": ("AYUDA", "INFORMACION"),
        "fr": ("AIDE",),
        "ht": ("ED", "EDE"),
        "pt": ("AJUDA",),
        "nl": ("HULP",),
    },
    "erase": {
        "en": ("DELETE", "ERASE", "DELETE MY DATA"),
        "es": ("BORRAR", "ELIMINAR", "BORRAR MIS DATOS"),
        "fr": ("EFFACER", "SUPPRIMER", "EFFACER MES DONNEES"),
        "ht": ("EFASE", "SIPRIME", "EFASE DONE MWEN"),
        "pt": ("APAGAR", "EXCLUIR"),
        "nl": ("VERWIJDEREN", "WISSEN"),
    },
    "menu": {
        "en": ("MENU", "0", "HOME", "BACK"),
        "es": ("INICIO", "MENU PRINCIPAL", "VOLVER"),
        "fr": ("ACCUEIL", "RETOUR"),
        "ht": ("MENI", "KOMANSMAN"),
        "pt": ("INICIO", "VOLTAR"),
        "nl": ("MENU", "TERUG"),
    },
    "more": {
        "en": ("MORE", "NEXT"),
        "es": ("MAS", "SIGUIENTE"),
        "fr": ("PLUS", "SUITE"),
        "ht": ("PLIS", "RES"),
        "pt": ("MAIS",),
        "nl": ("MEER", "VERDER"),
    },
    "language": {
        "en": ("ENGLISH", "INGLES", "ANGLAIS", "ANGLE"),
        "es": ("ESPANOL", "SPANISH", "CASTELLANO", "ESPAGNOL", "PANYOL"),
        "fr": ("FRANCAIS", "FRENCH", "FRANCES", "FRANSE"),
        "ht": ("KREYOL", "CREOLE", "CRIOLLO", "CREOLE HAITIEN", "KREYOL AYISYEN"),
        "pt": ("PORTUGUES", "PORTUGUESE", "PORTUGAIS"),
        "nl": ("NEDERLANDS", "DUTCH", "HOLANDES", "NEERLANDAIS"),
    },
    "human": {
        "en": ("HUMAN", "AGENT", "PERSON", "OPERATOR", "TALK TO A PERSON"),
        "es": ("PERSONA", "AGENTE", "HUMANO", "ASESOR", "HABLAR CON UNA PERSONA"),
        "fr": ("PERSONNE", "CONSEILLER", "HUMAIN"),
        "ht": ("MOUN", "AJAN", "PALE AK YON MOUN"),
        "pt": ("PESSOA", "ATENDENTE"),
        "nl": ("MEDEWERKER", "MENS"),
    },
    "affirm": {
        "en": ("YES",),
        "es": ("SI", "CONFIRMO"),
        "fr": ("OUI", "CONFIRMER"),
        "ht": ("WI", "DAKO"),
        "pt": ("SIM",),
        "nl": ("JA",),
    },
}  # fmt: skip


@dataclass(frozen=True)
class Keyword:
    kind: str
    language: str


def _index(kinds: tuple[str, ...]) -> dict[str, Keyword]:
    table: dict[str, Keyword] = {}
    for kind in kinds:
        for language, words in KEYWORDS[kind].items():
            for word in words:
                table.setdefault(word, Keyword(kind, language))
    return table


# Affirmations are only meaningful as answers to a question, so they are matched separately.
_COMMANDS = _index(("opt_out", "opt_in", "help", "erase", "menu", "more", "language", "human"))
_AFFIRM = _index(("affirm",))


def match(text: str) -> Keyword | None:
    """The keyword the whole message is, if any."""
    return _COMMANDS.get(normalize(text))


def is_affirmation(text: str) -> bool:
    return normalize(text) in _AFFIRM


# Alerts: ALERTAS, ALERTAS MX, ALERTAS NO, STOP ALERTS... The first word says the language of the keyword.
ALERT_WORDS = {"ALERTAS": "es", "ALERTA": "es", "ALERTS": "en", "ALERT": "en", "ALERTES": "fr", "ALERTE": "fr",
               "ALET": "ht", "MELDINGEN": "nl", "WAARSCHUWINGEN": "nl"}
ALERTS_OFF = {"NO", "OFF", "NON", "NAO", "UIT", "STOP", "BAJA", "KANPE", "PARAR", "ARRET", "STOPPEN"}


@dataclass(frozen=True)
class AlertCommand:
    subscribe: bool
    language: str
    rest: str  # what follows the keyword: a country, or nothing


def alert_command(text: str) -> AlertCommand | None:
    """ALERTS [country] subscribes; ALERTS OFF / STOP ALERTS (and their translations) unsubscribe."""
    words = normalize(text).split()
    if not words:
        return None
    if words[0] in ALERT_WORDS:
        language, rest = ALERT_WORDS[words[0]], words[1:]
        if rest and rest[0] in ALERTS_OFF:
            return AlertCommand(False, language, " ".join(rest[1:]))
        return AlertCommand(True, language, " ".join(rest))
    if len(words) >= 2 and words[0] in ALERTS_OFF and words[1] in ALERT_WORDS:
        return AlertCommand(False, ALERT_WORDS[words[1]], " ".join(words[2:]))
    return None
