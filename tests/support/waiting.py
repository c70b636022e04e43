"""Waiting for a condition, with a timeout: the tests' only way to wait (no fixed sleeps)."""
from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], Optional[T]], timeout: float = 10.0, what: str = "condition") -> T:
    """The predicate's first truthy value, polled every 50 ms; an AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.05)
