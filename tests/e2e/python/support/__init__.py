"""Shared helpers for retouch's end-to-end tests: the server process, test images, raw HTTP."""
