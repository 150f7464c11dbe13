"""Base's read-only access to the collected data: one authorized_keys line per base key, restricted to rrsync -ro.

The line is `restrict,command="/usr/bin/rrsync -ro DIR" KEY`: sshd runs nothing but rrsync (Debian's rsync package),
which serves DIR read-only, whatever the client asks; `restrict` refuses shells, ptys and every kind of forwarding.
rrsync serves one directory, so DIR is the one holding data_dir and support_dir (/var/lib/meso360 as packaged;
its state/ is closed to the fleet account by an ACL, debian/meso360.tmpfiles).
"""

import base64
import binascii
import dataclasses
import os
import re
from pathlib import Path

from meso360.atomic import write_atomically
from meso360.errors import Meso360Error

RRSYNC = "/usr/bin/rrsync"
# The fleet account's home (debian/meso360.tmpfiles: root's, 0755, so sshd's StrictModes accepts it and the
# account cannot change its own keys).
AUTHORIZED_KEYS = Path("/var/lib/meso360-fleet/.ssh/authorized_keys")
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
# A path sshd's command="…" and rrsync's argument take as it is: no quotes, spaces or shell characters.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._+/-]*")


class KeyFileError(Meso360Error):
    """The key file is not one OpenSSH public key line of an accepted type."""


class ExposureError(Meso360Error):
    """The directory rrsync would serve is unsafe or unusable."""


@dataclasses.dataclass(frozen=True)
class PublicKey:
    key_type: str
    blob: str  # base64, as in the .pub file
    comment: str

    def __str__(self):
        return f"{self.key_type} {self.blob}" + (f" {self.comment}" if self.comment else "")


def parse_public_key(text):
    """Given a key file's text, return its PublicKey. Raise KeyFileError unless it holds exactly one
    ed25519, RSA or ECDSA public key line (as ssh-keygen writes it: no options, no private key)."""
    if "PRIVATE KEY" in text:
        raise KeyFileError("this is a private key: give base's public key (the .pub file)")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) != 1:
        raise KeyFileError(f"must hold exactly one ssh public key line, found {len(lines)}")
    fields = lines[0].split()
    if fields[0] not in KEY_TYPES:
        raise KeyFileError(
            f"starts with {fields[0][:40]!r}: not an ed25519, RSA or ECDSA public key"
            f" (accepted: {', '.join(KEY_TYPES)}; give the .pub file as ssh-keygen wrote it, without options)"
        )
    if len(fields) < 2:
        raise KeyFileError(f"the {fields[0]} line has no key data")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"the {fields[0]} key data is not base64") from None
    name_length = int.from_bytes(blob[:4], "big")
    if len(blob) < 4 + name_length + 4 or blob[4 : 4 + name_length] != fields[0].encode():
        raise KeyFileError(f"the key data is not a {fields[0]} key")
    comment = "".join(ch for ch in " ".join(fields[2:]) if ch.isprintable() and ch != '"')
    return PublicKey(fields[0], fields[1], comment)


def exposed_directory(data_dir, support_dir, private_paths):
    """Return the one directory rrsync serves: the nearest one holding data_dir and support_dir.

    Raise ExposureError if that is "/", holds one of `private_paths` (config, tunnel key, known_hosts), or is
    not a plain path (spaces, quotes).
    """
    directory = Path(os.path.commonpath([str(data_dir), str(support_dir)]))
    if directory == Path("/"):
        raise ExposureError(
            f"data_dir {data_dir} and support_dir {support_dir} share no directory but /: rrsync serves one"
            " directory, so put both in one (the packaged /var/lib/meso360/data and support)"
        )
    for private in private_paths:
        private = Path(private)
        if private == directory or directory in private.parents:
            raise ExposureError(f"{directory} holds {private}: base must never read it; move data_dir and support_dir")
    if not _PLAIN_PATH.fullmatch(str(directory)):
        raise ExposureError(f"{directory}: only letters, digits and . _ + - / are allowed in the served directory")
    return directory


def access_line(key, directory, rrsync=RRSYNC):
    """Return the authorized_keys line giving `key` (PublicKey) read-only rsync access to `directory`, nothing else."""
    return f'restrict,command="{rrsync} -ro {directory}" {key}'


def install(authorized_keys, key, directory, remove=False):
    """Put the access line of `key` into the authorized_keys file (or take every line of that key out, `remove`).

    Idempotent: a key appears once, with the current line. Return "added", "replaced", "unchanged", "removed" or
    "absent". The file is replaced atomically (0644, owner kept), its directory created (0755) if missing.
    """
    path = Path(authorized_keys)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    ours = [line for line in lines if key.blob in line.split()]
    others = [line for line in lines if key.blob not in line.split()]
    wanted = access_line(key, directory)
    if remove:
        if not ours:
            return "absent"
        _replace(path, others)
        return "removed"
    if ours == [wanted]:
        return "unchanged"
    _replace(path, [*others, wanted])
    return "replaced" if ours else "added"


def _replace(path, lines):
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    try:
        existing = path.stat()
    except FileNotFoundError:
        existing = None
    owner = (existing.st_uid, existing.st_gid) if existing is not None and os.geteuid() == 0 else None
    write_atomically(path, "".join(line + "\n" for line in lines), 0o644, owner)
