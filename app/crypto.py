"""Encryption of the few phone numbers that must be kept: subscribers' and those of an open hand-over."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["AddressBox", "InvalidToken", "new_key"]


def new_key() -> str:
    return Fernet.generate_key().decode()


def _development_key(hash_secret: str) -> str:
    """A key derived from HASH_SECRET, for development only (production refuses to start without keys)."""
    digest = hashlib.sha256(b"migrantinfo address key\0" + hash_secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


class AddressBox:
    """Encrypts with the first key of ADDRESS_KEYS and decrypts with any of them, so keys can be rotated."""

    def __init__(self, keys: str, *, hash_secret: str) -> None:
        names = [k.strip() for k in keys.split(",") if k.strip()] or [_development_key(hash_secret)]
        self._fernet = MultiFernet([Fernet(k.encode()) for k in names])

    def seal(self, address: str) -> str:
        return self._fernet.encrypt(address.encode()).decode()

    def open(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()

    def rotate(self, token: str) -> str:
        """The same address under the first key."""
        return self._fernet.rotate(token.encode()).decode()


@lru_cache(maxsize=8)
def box_for(keys: str, hash_secret: str) -> AddressBox:
    return AddressBox(keys, hash_secret=hash_secret)
