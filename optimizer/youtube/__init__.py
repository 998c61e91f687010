"""YouTube Data API v3: quota costs, the HTTP client, OAuth, sync."""
