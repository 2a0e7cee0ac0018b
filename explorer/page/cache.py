"""A bounded, thread-safe LRU cache that counts bytes, for decoders and latent tables shared by all sessions."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import pandas as pd
from torch import nn


def frame_bytes(frame: pd.DataFrame) -> int:
    """Memory held by a DataFrame's columns and index (object cells counted as pointers)."""
    return int(frame.memory_usage(index=True, deep=False).sum())


def model_bytes(model: nn.Module) -> int:
    """Memory held by a model's parameters and buffers."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


class ByteLRU:
    """Keeps the most recently used values while their total size stays under `max_bytes` and `max_items`."""

    def __init__(self, max_bytes: int, max_items: int) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._values: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values

    @property
    def total_bytes(self) -> int:
        """Bytes of every cached value together."""
        return sum(size for _, size in self._values.values())

    def get_or_create(self, key: Hashable, make: Callable[[], Any], size_of: Callable[[Any], int]) -> Any:
        """The cached value for key, else `make()` (run outside the lock, so a slow load blocks no other key)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                self.hits += 1
                return self._values[key][0]
            self.misses += 1
        value = make()
        self.put(key, value, size_of(value))
        return value

    def put(self, key: Hashable, value: Any, size: int) -> None:
        """Store a value; the least recently used ones go until the bounds hold (a value over the bound is not kept)."""
        with self._lock:
            self._values.pop(key, None)
            if size > self.max_bytes:
                return
            self._values[key] = (value, size)
            while len(self._values) > self.max_items or self.total_bytes > self.max_bytes:
                self._values.popitem(last=False)

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._values.clear()
