"""A compact map from 64-bit hashes to 64-bit integers, for indexes with one entry per row of a large
file (the judgment cache's byte offsets, the ids already seen in a pair file).

A ``dict`` of Python ints costs about 120 bytes an entry; this open-addressing table keeps two flat
``array('q')`` columns and costs 16 bytes an entry over its load (32-48 bytes in all), so an index of
20M judgments fits in well under a gigabyte. Keys are hashes: a caller that must tell two keys with
the same hash apart keeps the key itself where the value points (the store reads it back from disk).
"""

from __future__ import annotations

from array import array

_EMPTY = 0  # a slot never used; the hash 0 is stored as 1 (one more rare collision)
_MAX_LOAD = 0.6


class HashIndex:
    """``int`` hash -> ``int`` value, with linear probing; no deletion (the files it indexes only grow).

    >>> index = HashIndex()
    >>> for n in range(100):
    ...     index[hash(f"key{n}")] = n * 10
    >>> index.get(hash("key42")), index.get(hash("absent")), len(index), hash("key7") in index
    (420, None, 100, True)
    """

    def __init__(self, expected: int = 600):
        """``expected``: how many entries are coming; a table sized for them never has to grow (a
        growing table briefly holds its old and new columns: 1.5 times the memory)."""
        size = max(8, int(expected / _MAX_LOAD) + 1)
        self._keys = array("q", bytes(8 * size))
        self._values = array("q", bytes(8 * size))
        self._size = size
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: int) -> bool:
        return self.get(key) is not None

    def get(self, key: int) -> int | None:
        slot = self._slot(key or 1)
        return self._values[slot] if self._keys[slot] != _EMPTY else None

    def __setitem__(self, key: int, value: int) -> None:
        key = key or 1
        slot = self._slot(key)
        self._values[slot] = value
        if self._keys[slot] == _EMPTY:  # a new entry
            self._keys[slot] = key
            self._count += 1
            if self._count > _MAX_LOAD * self._size:
                self._grow()

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it goes (linear probing from ``key % size``)."""
        keys, size = self._keys, self._size
        slot = key % size
        while keys[slot] != key and keys[slot] != _EMPTY:
            slot = slot + 1 if slot + 1 < size else 0
        return slot

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        bigger = HashIndex(2 * self._count)
        for key, value in zip(old_keys, old_values, strict=True):
            if key != _EMPTY:
                bigger[key] = value
        self._keys, self._values, self._size = bigger._keys, bigger._values, bigger._size
