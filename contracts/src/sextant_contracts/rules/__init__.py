"""The rules a resource must meet, in Python, shared by every reader of it: admission webhook and trainer."""
