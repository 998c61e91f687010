"""Channels: connect (Google OAuth), the demo channel, the video table,
sync, members."""
