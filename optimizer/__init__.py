"""The domain: YouTube, Claude and SerpAPI clients, prompts, YouTube's
limits, the heuristic engine, statistics. No Flask, no RQ."""
