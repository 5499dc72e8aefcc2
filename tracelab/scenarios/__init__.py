"""Workshop scenarios from the outside: switch them, drive traffic, check their signatures.

The scenarios are declared once, in ``services.common.scenarios`` (the
services run their faults, ``services.common.faults`` switches them); the
lab looks them up through :mod:`tracelab.scenarios.catalogue`. This package
is the workshop leader's side: ``tracelab scenario list|on|off|check``.
"""
