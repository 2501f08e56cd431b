"""One place decides which listener serves each kind of source."""

from __future__ import annotations

import importlib
from typing import Any

from listeners.base import Listener

_LISTENERS = {
    "feed": ("listeners.feeds", "FeedListener"),
    "reddit": ("listeners.reddit", "RedditListener"),
    "hackernews": ("listeners.hackernews", "HackerNewsListener"),
    "appstore": ("listeners.appstore", "AppStoreListener"),
    "filedrop": ("listeners.filedrop", "FileDropListener"),
}


def listener_for(kind: str, **options: Any) -> Listener:
    """A listener for ``kind``; its module is imported only when a source of that kind exists."""
    try:
        module_name, class_name = _LISTENERS[kind]
    except KeyError:
        raise ValueError(f"no listener for source kind {kind!r}; known: {', '.join(_LISTENERS)}") from None
    listener: Listener = getattr(importlib.import_module(module_name), class_name)(**options)
    return listener
