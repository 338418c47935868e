import pytest

from app.channels.render import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsInfo,
    sms_info,
    split_sms,
    split_whatsapp,
    to_gsm7,
)

HINT = "Reply MAS for more"
GREEK = (
    "\N{GREEK CAPITAL LETTER DELTA}\N{GREEK CAPITAL LETTER PHI}\N{GREEK CAPITAL LETTER GAMMA}"
    "\N{GREEK CAPITAL LETTER LAMDA}\N{GREEK CAPITAL LETTER OMEGA}\N{GREEK CAPITAL LETTER PI}"
    "\N{GREEK CAPITAL LETTER PSI}\N{GREEK CAPITAL LETTER SIGMA}\N{GREEK CAPITAL LETTER THETA}"
    "\N{GREEK CAPITAL LETTER XI}"
)
SENTENCES = [
    "La solicitud de asilo se presenta ante la COMAR dentro de los 30 días hábiles siguientes a su llegada.",
    "No tiene que pagar a nadie por este trámite, es gratuito.",
    "Lleve una identificación si la tiene; si no la tiene, también puede solicitar.",
    "¿Necesita ayuda? Escriba AYUDA y le diremos dónde está la oficina más cercana.",
    "Los albergues ofrecen comida, un lugar para dormir y orientación legal {sin costo} €0.",
]


def long_text(chars: int) -> str:
    """Return Spanish paragraphs of about `chars` characters."""
    sentences, total, index = [], 0, 0
    while total < chars:
        sentence = SENTENCES[index % len(SENTENCES)]
        sentences.append(sentence + ("\n\n" if index % 4 == 3 else " "))
        total, index = total + len(sentences[-1]), index + 1
    return "".join(sentences).strip()


def body(page: str) -> str:
    return page.removesuffix("\n" + HINT)


def test_gsm7_tables() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes minus the escape to the extension table
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert set(GREEK) <= GSM7_BASIC
    assert set("\n\r @£$¥¤§¿¡èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà_") <= GSM7_BASIC
    assert set("áíóúÁÍÓÚç`") & GSM7_BASIC == set()


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("Hola\nmundo", "GSM-7", 10, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("a" * 459, "GSM-7", 459, 3),
        ("a" * 460, "GSM-7", 460, 4),
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        ("{[|]}^~\\\f€", "GSM-7", 20, 1),
        # an extension character never straddles two segments: 152 + (2) + 152 needs three
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        ("á" * 70, "UCS-2", 70, 1),
        ("á" * 71, "UCS-2", 71, 2),
        ("á" * 134, "UCS-2", 134, 2),
        ("á" * 135, "UCS-2", 135, 3),
        ("😀", "UCS-2", 2, 1),
        ("😀" * 35, "UCS-2", 70, 1),
        ("😀" * 36, "UCS-2", 72, 2),
        ("á" * 66 + "😀" + "á" * 66, "UCS-2", 134, 3),  # nor does a surrogate pair
        ("a" * 159 + "á", "UCS-2", 160, 3),  # one character outside GSM-7 turns the whole text UCS-2
        ("¿Dónde está la oficina?", "UCS-2", 23, 1),
    ],
)
def test_sms_info(text: str, encoding: str, units: int, segments: int) -> None:
    assert sms_info(text) == SmsInfo(encoding=encoding, units=units, segments=segments)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¿Dónde está la oficina?", "¿Donde esta la oficina?"),
        ("ÁÍÓÚ áíóú âêîôû ãõ ç Ç ëïÿ", "AIOU aiou aeiou ao c Ç eiy"),
        ("É è ù ì ò à ñ Ñ ü Ü ä ö Ä Ö ¿ ¡ æ Æ ø Ø å Å ß", "É è ù ì ò à ñ Ñ ü Ü ä ö Ä Ö ¿ ¡ æ Æ ø Ø å Å ß"),
        ("Où déposer une demande d'asile ?", "Où déposer une demande d'asile ?"),
        ("Où déposer une demande d\u2019asile\u202f?", "Où déposer une demande d'asile ?"),
        ("L'hôpital est à côté. Œuvre, cœur.", "L'hopital est à coté. OEuvre, coeur."),
        (
            "Kijan mwen ka mande azil? Ou pa bezwen peye pèsonn.",
            "Kijan mwen ka mande azil? Ou pa bezwen peye pèsonn.",
        ),
        ("Èske ou ka ede m? Wi, nou la.", "Eske ou ka ede m? Wi, nou la."),
        ("“Hola” ‘amigo’ „x‟ «Bonjour» ‹y› 5′ 6″", '"Hola" \'amigo\' "x" "Bonjour" \'y\' 5\' 6"'),
        ("1–2 — 3 ‒ 4 − 5 ‐ 6 ‑ 7 ― 8", "1-2 - 3 - 4 - 5 - 6 - 7 - 8"),
        ("Espere… y ‥", "Espere... y .."),
        ("• Paso 1\n· Paso 2\n◦ Paso 3", "- Paso 1\n- Paso 2\n- Paso 3"),
        ("a\u00a0b\u2003c\u3000d\te", "a b c d e"),
        ("a\u200bb\u200cc\u200dd\u2060e\ufefff\u00adg", "abcdefg"),
        ("línea 1\u2028línea 2", "linea 1\nlinea 2"),
        ("Hola 👋 amigo", "Hola amigo"),
        ("👍 Listo\nGracias 🙏🏽", "Listo\nGracias"),
        ("❤️ Te ayudamos", "Te ayudamos"),
        ("👨‍👩‍👧 Familia 🇲🇽 México", "Familia México"),
        ("*Importante*: traiga su pasaporte", "*Importante*: traiga su pasaporte"),
        ("Precio: €5 {sin} [costo] ~ | \\ ^", "Precio: €5 {sin} [costo] ~ | \\ ^"),
        ("ﬁn ½ ™ Ａ１", "fin 1/2 TM A1"),
        ("N° 5, 1º, 2ª", "No 5, 1o, 2a"),
        ("2×3 ≤ 7 ± 1 → sí", "2x3 <= 7 +/- 1 -> si"),
        ("Привет", "??????"),  # no Latin form under NFKD: one "?" per letter shows text was lost
        ("你好", "??"),
        ("", ""),
    ],
)
def test_to_gsm7(text: str, expected: str) -> None:
    assert to_gsm7(text) == expected
    assert sms_info(to_gsm7(text)).encoding == "GSM-7"


TRICKY = [
    "ﬁ ﬂ ﬀ ½ ¾ ² ³ ℃ ℌ ™ © ® ¨ ´ ` ˜",
    "Привет мир, Ελληνικά, 中文, 日本語ｶﾀｶﾅ, 한국어, العربية, עברית, हिन्दी",
    "🇭🇹🇬🇹 👩🏾‍⚕️ 🧑‍🤝‍🧑 1️⃣ #️⃣ \U000e0067 \ufe0f\u20e3",
    "₡500 ₱ ₹ ¢ ¤ ¥ £ $ € ‰ ‱ ∞ √ ∑ ≈ ≠",
    "\x00\x07\x0b\x1b\x7f\x85\ud800\ue000\U0010ffff",
    "ǅ ǈ ĳ Ŀ ŉ ſ Ÿ Ő ő Đ đ Ł ł ı Þ þ Ð ð",
    "‘’‚‛“”„‟′″‹›«»–—‒−―…•·◦‣\u00a0\u202f\u2009\u200b",
]


@pytest.mark.parametrize("text", TRICKY)
def test_to_gsm7_is_always_gsm7_and_idempotent(text: str) -> None:
    converted = to_gsm7(text)
    assert sms_info(converted).encoding == "GSM-7"
    assert "  " not in converted
    assert to_gsm7(converted) == converted


def test_split_sms_keeps_a_short_text_whole() -> None:
    text = "Hola. La oficina abre a las 9."
    assert split_sms(text, max_segments=1, more_hint=HINT) == [text]
    assert split_sms("a" * 459, max_segments=3, more_hint=HINT) == ["a" * 459]


def test_split_sms_converts_defensively_and_drops_blank_text() -> None:
    assert split_sms("¿Dónde? 👋", max_segments=1, more_hint=HINT) == ["¿Donde?"]
    assert split_sms(" \n 👋 ", max_segments=1, more_hint=HINT) == []
    pages = split_sms("palabra " * 60, max_segments=1, more_hint="Responde MÁS")
    assert pages[0].endswith("\nResponde MAS")


@pytest.mark.parametrize("max_segments", [1, 2, 3, 4])
@pytest.mark.parametrize("chars", [700, 2000, 5000])
def test_split_sms_pages_fit_carry_hints_and_keep_every_word(max_segments: int, chars: int) -> None:
    text = to_gsm7(long_text(chars))
    pages = split_sms(text, max_segments=max_segments, more_hint=HINT)
    assert len(pages) > 1
    for page in pages:
        assert sms_info(page).encoding == "GSM-7"
        assert sms_info(page).segments <= max_segments
        assert page == page.strip()
    assert all(page.endswith("\n" + HINT) for page in pages[:-1])
    assert not pages[-1].endswith(HINT)
    # the same words in the same order means no word was cut
    assert " ".join(body(page) for page in pages).split() == text.split()


def test_split_sms_2000_chars_in_3_segments_gives_at_least_5_pages() -> None:
    pages = split_sms(long_text(2000), max_segments=3, more_hint=HINT)
    assert len(pages) >= 5
    assert all(sms_info(page).segments <= 3 for page in pages)


def test_split_sms_cuts_at_a_paragraph_break() -> None:
    first, second = "Primero. " + "uno dos tres " * 20, "Segundo. " + "cuatro cinco " * 20
    pages = split_sms(first.strip() + "\n\n" + second.strip(), max_segments=3, more_hint=HINT)
    assert pages == [first.strip() + "\n" + HINT, second.strip()]


def test_split_sms_prefers_a_line_break_then_a_sentence_end() -> None:
    lines = "\n".join(f"Linea {n} con algunas palabras mas para llenar la pagina." for n in range(8))
    pages = split_sms(lines, max_segments=1, more_hint=HINT)
    assert all(body(page).endswith("pagina.") for page in pages)
    sentences = " ".join(f"Frase {n} con algunas palabras mas para llenar." for n in range(12))
    pages = split_sms(sentences, max_segments=1, more_hint=HINT)
    assert all(body(page).endswith("llenar.") for page in pages)


def test_split_sms_cuts_a_word_longer_than_a_page() -> None:
    word = "a" * 500 + "€" * 50
    pages = split_sms(word, max_segments=1, more_hint=HINT)
    assert all(sms_info(page).segments == 1 for page in pages)
    assert "".join(body(page) for page in pages) == word


@pytest.mark.parametrize(("max_segments", "hint"), [(0, HINT), (1, "x" * 160)])
def test_split_sms_rejects_impossible_pages(max_segments: int, hint: str) -> None:
    with pytest.raises(ValueError):
        split_sms("palabra " * 100, max_segments=max_segments, more_hint=hint)


def words(chars: int) -> str:
    """Return exactly `chars` characters of words ending in a letter."""
    return ("palabra " * chars)[: chars - 1] + "x"


@pytest.mark.parametrize(("chars", "parts"), [(1599, 1), (1600, 1), (1601, 2), (3200, 2), (3201, 3)])
def test_split_whatsapp_lengths(chars: int, parts: int) -> None:
    text = words(chars)
    split = split_whatsapp(text)
    assert len(split) == parts
    assert all(len(part) <= 1600 for part in split)
    assert " ".join(split).split() == text.split()
    if parts == 1:
        assert split == [text]


def test_split_whatsapp_respects_paragraphs_and_keeps_emoji_and_bold() -> None:
    paragraphs = [f"*Paso {n}* 👉 " + words(690) for n in range(4)]
    split = split_whatsapp("\n\n".join(paragraphs))
    assert split == ["\n\n".join(paragraphs[:2]), "\n\n".join(paragraphs[2:])]


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("uno dos tres cuatro", 8, ["uno dos", "tres", "cuatro"]),
        (
            "Primera frase aquí. Segunda frase más larga.",
            30,
            ["Primera frase aquí.", "Segunda frase más larga."],
        ),
        ("Línea uno larga\nlínea dos", 20, ["Línea uno larga", "línea dos"]),
        (
            "Sí\nuno dos tres cuatro",
            12,
            ["Sí\nuno dos", "tres cuatro"],
        ),  # a break in the first half wastes room
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("Hola 😀", 1600, ["Hola 😀"]),
        ("  \n ", 1600, []),
    ],
)
def test_split_whatsapp_breaks(text: str, limit: int, expected: list[str]) -> None:
    assert split_whatsapp(text, limit=limit) == expected
