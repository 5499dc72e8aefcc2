"""Workshop scenarios from the outside: switch them, drive traffic, check their signatures.

The scenarios themselves (the faults) live in the services
(``services.common.faults``); this package is the workshop leader's side:
``tracelab scenario list|on|off|check``.
"""
