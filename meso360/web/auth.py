"""The operator password: salted scrypt hashes as stored in web.password_hash, and their verification."""

import base64
import hashlib
import hmac
import secrets

# scrypt cost: about 50 ms and 16 MB on the vehicle computer.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
_MAX_MEMORY = 64 * 1024 * 1024


def _scrypt(password, salt, n, r, p, length):
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=_MAX_MEMORY)


def hash_password(password):
    """Given a password, return "scrypt$n$r$p$salt_b64$hash_b64" with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def is_valid_hash(stored):
    """Return True when `stored` is a hash this module can verify."""
    try:
        _parse(stored)
    except ValueError:
        return False
    return True


def _parse(stored):
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not a scrypt$n$r$p$salt$hash string")
    n, r, p = (int(value) for value in parts[1:4])
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or n * r * 128 > _MAX_MEMORY // 2:
        raise ValueError("scrypt parameters out of range")
    salt = base64.b64decode(parts[4], validate=True)
    digest = base64.b64decode(parts[5], validate=True)
    if not salt or not 16 <= len(digest) <= 64:
        raise ValueError("bad salt or hash length")
    return n, r, p, salt, digest


def verify_password(password, stored):
    """Return True when `password` matches the `stored` hash (constant-time compare); False for a bad hash."""
    try:
        n, r, p, salt, digest = _parse(stored)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)
