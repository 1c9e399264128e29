"""What a run counts, for the report: every thread adds to one tally."""

import threading
from collections import Counter


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = Counter()
        self.server_errors = []
        # Lines the report prints as they are (the invoice and credit-note series).
        self.summaries = {}

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def error(self, what):
        with self.lock:
            self.server_errors.append(what)
