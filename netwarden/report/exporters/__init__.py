"""Export formats, one module each, registered in ``EXPORTERS`` (see netwarden.plugins: every public module of
this package is imported when a format is first looked up). The API's ``?format=``, its ``Accept:`` types and
the download's file name all come from here, so a new format is one new module::

    @EXPORTERS.register
    class Tsv(Exporter):
        name = "tsv"                                    # ?format=tsv, the file's suffix
        media_type = "text/tab-separated-values"        # the download's Content-Type
        accepts = ("text/tab-separated-values",)        # Accept: types that ask for it

        @staticmethod
        def rows(columns, rows, *, bom=False): ...      # dicts -> pieces of bytes
        @staticmethod
        def driver_rows(plan, rows, *, bom=False): ...  # driver tuples (see store.driver_rows.Plan) -> the same bytes
        @staticmethod
        def read(data): ...                             # the bytes read back as rows (the contract test's)

Both writers stream: memory stays flat however many rows. ``tests/report/test_exporter_contract.py`` checks
every registered format round-trips hostile cells along both paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from netwarden.plugins import Registry

if TYPE_CHECKING:
    from netwarden.store.driver_rows import Plan


class UnknownFormat(LookupError):
    pass


class Exporter:
    name: ClassVar[str] = ""
    media_type: ClassVar[str] = ""
    accepts: ClassVar[tuple[str, ...]] = ()

    @staticmethod
    def rows(columns: Sequence[str], rows: Iterable[dict[str, Any]], *, bom: bool = False) -> Iterator[bytes]:
        raise NotImplementedError

    @staticmethod
    def driver_rows(plan: Plan, rows: Iterable[Sequence[Any]], *, bom: bool = False) -> Iterator[bytes]:
        raise NotImplementedError

    @staticmethod
    def read(data: bytes) -> list[dict[str, Any]]:
        raise NotImplementedError


EXPORTERS: Registry[type[Exporter]] = Registry("export format", "netwarden.report.exporters", error=UnknownFormat,
                                               required=("name", "media_type", "accepts"))


def by_media_type() -> dict[str, str]:
    """Each ``Accept:`` type a format answers to, and that format's name."""
    return {media: name for name, exporter in EXPORTERS.all().items() for media in exporter.accepts}
