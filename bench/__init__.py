"""Benchmarks: ``make bench`` (``python -m bench``).

Each benchmark prints informative lines starting with ``#`` and one line per
figure, ``name=value``, where the value is a ratio against a reference
measured in the same run on the same machine, so that figures from different
machines can be compared. Benchmarks are not tests: no thresholds, no pass
or fail, and only loopback traffic.
"""
