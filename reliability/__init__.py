"""Infrastructure shared by the web app, the jobs and the domain: database
pool and transactions, retries, errors, logging, embedded dev services.

Nothing here imports Flask or RQ, so workers and scripts can use it freely.
"""
