"""Local emulator of the contact-center vendor APIs (aiohttp), with a ``/_sandbox/`` control plane.

Public API: :func:`create_app`, :class:`SandboxServer`; run standalone with
``python -m contact_center_provider.sandbox``. Vendors live in sub-packages that
expose a ``VENDOR`` :class:`~.vendors.VendorSpec`.
"""

from __future__ import annotations

from .app import create_app
from .server import SandboxServer

__all__ = ["SandboxServer", "create_app"]
