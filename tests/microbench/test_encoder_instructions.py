"""The callgrind measurement's child (encoder_instructions.py) once, without callgrind.

The figures come from ``make bench-encoder``; this only keeps the measured
code path working: every item it exports arrives at the sink.
"""

from __future__ import annotations

import pytest

from tests.microbench import encoder_instructions


@pytest.mark.parametrize("signal", encoder_instructions.SIGNALS)
@pytest.mark.parametrize("exporter", encoder_instructions.EXPORTERS)
def test_the_measured_child_exports_every_item(sink, signal, exporter, monkeypatch):
    # run_child sets these for its exporter; recorded here so they are restored.
    for variable in encoder_instructions.CHILD_VARIABLES:
        monkeypatch.setenv(variable, "")
    base = sink.endpoint.removesuffix("/v1/traces")
    before = sink.stats()[signal]
    sent = encoder_instructions.run_child(signal, exporter, 1, 1, base)
    assert sent == 2 * encoder_instructions.BATCH
    assert sink.stats()[signal] - before == sent
