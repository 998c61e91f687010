"""The API's reference pages: Swagger UI at /api/docs, ReDoc at /api/redoc."""
