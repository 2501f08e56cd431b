"""The bundled offline demo market: Vaultline, a backup and disaster-recovery vendor selling to MSPs.

:mod:`earshot.demo.market_data` generates what the market says (deterministically, with planted themes and
noise), :mod:`earshot.demo.server` serves it as RSS/Atom feeds on 127.0.0.1, and ``market.yaml`` next to
this file is the listening plan that points earshot at those feeds. Together they let a new user run the
whole pipeline offline and check that the report finds the themes that were planted.
"""

from __future__ import annotations

from pathlib import Path

from earshot.demo.market_data import (
    ANCHOR,
    MALFORMED_FEED,
    PLANTED_THEMES,
    DemoFeed,
    DemoItem,
    build_demo_feeds,
    render_feed,
)
from earshot.demo.server import DemoServer

MARKET_PATH = Path(__file__).with_name("market.yaml")
"""The demo listening plan; its feed URLs read ``${EARSHOT_DEMO_URL}`` (the running server's base URL)."""
DEMO_URL_ENV = "EARSHOT_DEMO_URL"

__all__ = [
    "ANCHOR",
    "DEMO_URL_ENV",
    "MALFORMED_FEED",
    "MARKET_PATH",
    "PLANTED_THEMES",
    "DemoFeed",
    "DemoItem",
    "DemoServer",
    "build_demo_feeds",
    "render_feed",
]
