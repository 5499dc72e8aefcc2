"""``tracelab doctor``: the troubleshooting checklist, run against a stack.

Each check looks at one thing that makes traces go missing or cost too
much (docs/doctor.md): the collector endpoint and protocol, spans lost in
the services, the collector's refused and failed counters, the samplers,
the span processors, broken propagation and clock skew. Each says PASS,
WARN or FAIL with its evidence and the fix.

:mod:`~tracelab.doctor.checks` judges evidence (pure functions, unit
tested on recorded pages and built traces); :mod:`~tracelab.doctor.gather`
collects it from the running programs; :mod:`~tracelab.doctor.target`
says where they are.
"""
