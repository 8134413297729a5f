"""Push delivery: webhook subscriptions and the JetStream stream of changes.

The web process records only what a subscriber wants (``storage.subscriptions``); the
change feed is already the ordered log of what happened. The deliverer (``flask --app
service deliver``, ``worker.py``) follows the feed with one cursor per subscription and
one per stream, under a lease, and sends each matching change as a signed CloudEvent.
"""
