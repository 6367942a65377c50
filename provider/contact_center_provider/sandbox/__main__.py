"""Run the sandbox in the foreground.

``python -m contact_center_provider.sandbox --host 127.0.0.1 --port 8765 --seed 42``

Prints one ``<vendor>: <API base URL>`` line per vendor, then
``sandbox ready: <root URL>`` once the socket accepts connections (wait for that line
instead of sleeping). Stops cleanly on SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from aiohttp import web

from .app import create_app, get_state


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m contact_center_provider.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port, 0 = any free port (default 8765)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic data (default 42)")
    parser.add_argument(
        "--vendor", action="append", dest="vendors", help="mount only this vendor (repeatable; default all)"
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    app = create_app(seed=args.seed, vendors=args.vendors)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = runner.addresses[0][1]
    root = f"http://{args.host}:{port}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    for name, spec in get_state(app).vendors.items():
        print(f"{name}: {root}{spec.base_path}")
        for label, path in spec.extra_urls.items():
            print(f"{name} {label}: {root}{path}")
    print(f"sandbox ready: {root} (seed {args.seed})", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        print("sandbox stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"sandbox failed to start on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
