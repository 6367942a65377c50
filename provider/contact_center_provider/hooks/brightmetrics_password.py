"""Compute the Brightmetrics password hash, so no clear password is stored in a connection.

Brightmetrics accepts, as the Basic-auth password, the base64 of the SHA-256 of the UTF-8
password (the vendor document's ``echo -n "password" | openssl sha256 -binary | openssl
base64``)::

    python -m contact_center_provider.hooks.brightmetrics_password
    Brightmetrics password: ********
    XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=

Paste the output into the connection's password field. The password is read without echo
(or from standard input with ``--stdin``), never from the command line, where it would land
in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import sys
from collections.abc import Sequence

__all__ = ["is_password_hash", "main", "password_hash"]

#: Prefix that marks a clear-text password in the password field.
CLEAR_PREFIX = "*pass"


def password_hash(password: str) -> str:
    """The value Brightmetrics accepts instead of ``password``: base64(SHA-256(UTF-8 bytes))."""
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest()).decode("ascii")


def is_password_hash(value: str) -> bool:
    """Whether ``value`` has the shape of such a hash (44 base64 characters encoding 32 bytes)."""
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contact_center_provider.hooks.brightmetrics_password",
        description="Print the base64 SHA-256 hash of a Brightmetrics password, for the connection's "
        "password field.",
    )
    parser.add_argument(
        "--stdin",
        action="store_true",
        help="read the password from standard input (first line) instead of a prompt",
    )
    args = parser.parse_args(argv)
    if args.stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Brightmetrics password: ")
    if not password:
        print("No password given.", file=sys.stderr)
        return 2
    print(password_hash(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
