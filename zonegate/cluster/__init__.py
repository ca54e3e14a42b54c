"""The local multi-zone cluster: ``zonegate up`` / ``down`` / ``logs`` / ``ctl``.

:mod:`zonegate.cluster.api` is the Python entry point (the chaos harness uses
it); :mod:`zonegate.cluster.supervisor` runs the processes.
"""
