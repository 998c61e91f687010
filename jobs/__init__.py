"""RQ jobs and the worker and cron entry points.

Jobs receive ids, load what they need from PostgreSQL and commit their
result there; the web never reads RQ results. Nothing runs at import time.
"""
