"""What an unanswered text is about: its words folded, without the common words of the six languages."""

import re

from app.text import strip_accents

# Very common words of the six languages, dropped before texts are compared (accents folded below).
STOP_WORDS = """
a al algo algun como con cual cuando de del donde el ella ellos en era es esa ese eso esta estan estoy este
esto fue ha hay hola gracias la las le les lo los me mi mis mucho muy mas ni no nos o para pero por porque
puedo puede que quien quiero se ser si sin sobre son su sus te tengo tiene tu un una uno unos usted y ya yo
favor buenas buenos dias tardes noches saber
about am an and are as at be but by can could do does for from get have hello hi how i if in is it me my
not of on or please so that the there this to was what when where which who why will with would you your
thanks thank want need know good morning
au aux avec bonjour ce ces comment dans des du elle est et il ils je la le leur ma mais merci moi mon ne
nous on ou par pas peux pour qu qui sa ses son sur ta tes toi ton tu une veux vous votre vos quoi suis
ak an bonswa bonjou e eske gen ka kapab ki kijan kisa kote li m mesi mwen nan nou ou pa pou sa se vle w yo
yon
ao aos as com da das do dos ela ele em entre estou eu isso isto mas meu minha na nas nao obrigado obrigada
oi ola os pela pelo posso qual quando quem sem seu sua tem um voce
aan bedankt bij dank dat die dit een en er graag hallo het hoe hoi ik je jij kan kun maar met mijn niet
om ook op te u van voor waar wat wie wil zijn alsjeblieft
"""
WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Case-folded ('ß' -> 'ss') without accents: 'Dónde' -> 'donde'."""
    return strip_accents(text.casefold())


COMMON = frozenset(fold(word) for word in STOP_WORDS.split())


def similarity_key(text: str) -> str:
    """What a text is about: folded words, no punctuation, no common words nor single letters, plurals cut,
    in alphabetical order ('¿Dónde puedo vacunar a mi perro?' and 'vacunar perros donde' share one key)."""
    words = WORD.findall(fold(text))
    kept = {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in COMMON and len(w) > 1}
    return " ".join(sorted(kept)) if kept else " ".join(words)
