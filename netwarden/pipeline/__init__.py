"""The pipeline: read → parse → stages (enrich → evidence filter → detect → alert listeners) → store, in batches.

Every source drives the same public batch API (see ``docs/architecture.md``):

- :meth:`Pipeline.parser` — a parser for one input (per file, per device);
- :meth:`Pipeline.parse_batch` — lines → a :class:`Batch` of events and quarantined lines, counted in an
  :class:`IngestResult`;
- :meth:`Pipeline.store_batch` — the stages, then the batch (and how far its input was read) to a
  :class:`~netwarden.store.writer.BatchWriter`, stored in one transaction.

Built on it: :meth:`Pipeline.ingest_file` (:mod:`.files`, :mod:`.captures`), :meth:`Pipeline.ingest_lines`,
:meth:`Pipeline.ingest_stream`, :meth:`Pipeline.store_lines` (``follow``) and :class:`LiveStream`
(:mod:`.stream`: listeners, capture, the demo). The stages are :mod:`.stages`.
"""

from netwarden.collect.files import SNIFF_LINES, InputError, Line
from netwarden.parse import UnknownFormat
from netwarden.pipeline.batch import Batch, IngestResult, numbered_lines, relaxed_gc
from netwarden.pipeline.core import BATCH_SIZE, Pipeline, detect_config
from netwarden.pipeline.stages import AlertChange, EvidenceFilter, Stage, Stages
from netwarden.pipeline.stream import DeviceCounters, LiveStream, StreamStats

__all__ = ["Pipeline", "IngestResult", "Batch", "Line", "numbered_lines", "Stages", "Stage", "AlertChange",
           "EvidenceFilter", "LiveStream", "StreamStats", "DeviceCounters", "BATCH_SIZE", "SNIFF_LINES",
           "InputError", "UnknownFormat", "detect_config", "relaxed_gc"]
