"""Which files of the data directories the web daemon may send: regular files really inside them."""

import os


def regular_file_inside(directory, name):
    """Return True when directory/name is a regular file whose real path is inside the directory's real path.

    A symlink in the data directory pointing elsewhere (at /etc/meso360/tunnel_key, say) is refused;
    the data directory itself may be a symlink (to a USB disk).
    """
    root = os.path.realpath(directory)
    path = os.path.realpath(os.path.join(root, name))
    return os.path.dirname(path) == root and os.path.isfile(path)
