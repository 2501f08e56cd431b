"""JSON from untrusted sources, bounded: nesting depth limited, every failure a reason instead of a crash.

Python's ``json`` raises ``RecursionError`` on deep nesting (100,000 ``[`` take a few hundred bytes), and
code that walks the result recursively (a comment tree) can do the same well below that. Every listener
reads JSON through :func:`load_json`; what it refuses becomes ``malformed`` with the reason.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 200  # Reddit's deepest comment pages nest about 60 levels; Python's parser gives up near 1,000


class JsonRejected(ValueError):
    """The input is not JSON this reader accepts; the message says why (never quoting the input at length)."""


def load_json(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed value; :class:`JsonRejected` when it is not JSON or nests deeper than ``max_depth``."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonRejected(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of more than 4,300 digits
        raise JsonRejected(f"not JSON ({str(exc)[:120]})") from None
    if _deeper_than(value, max_depth):
        raise JsonRejected(f"nested deeper than {max_depth} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
