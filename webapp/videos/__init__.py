"""A video's page: its metadata against YouTube's limits, its SEO score with
reasons, and its suggestions."""
