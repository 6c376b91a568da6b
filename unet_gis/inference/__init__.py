"""The sliding-window engine and its progress/cancel plumbing."""
