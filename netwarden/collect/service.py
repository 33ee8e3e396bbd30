"""What the listeners and the live capture share: each runs in threads of its own between ``start()`` and
``stop()``, and ``with`` runs it for the length of a block."""

from __future__ import annotations

from typing import Self


class Service:
    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
