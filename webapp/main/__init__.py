"""The dashboard and the health endpoint."""
