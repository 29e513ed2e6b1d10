"""vLLM's ``cache_salt``, derived server-side from the session id with a secret key.

Turns of one session carry the same salt (they share prefix-cache blocks); two sessions never
do, even on the same film, and nobody without the key can compute another session's salt.
The salt is only ever computed here from ``settings.cache_salt_key``: no request field, header
or turn fact can set it.
"""

from __future__ import annotations

import hashlib
import hmac

_DOMAIN = b"hilum/cache-salt/v1\x00"


def cache_salt(secret_key: str, session_id: str) -> str:
    """HMAC-SHA256(secret_key, session_id) as 64 hex characters (256 bits, as vLLM advises)."""
    if not secret_key:
        raise ValueError("cache_salt_key must not be empty")
    return hmac.new(secret_key.encode("utf-8"), _DOMAIN + session_id.encode("utf-8"), hashlib.sha256).hexdigest()
