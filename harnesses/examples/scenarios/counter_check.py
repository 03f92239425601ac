"""A lost update in pure Python, found by the check: two threads each add
one to a shared counter with a read and a write that are not atomic
together.  (Not a CPython bug: it shows the check.)

    ftfuzz explore harnesses/examples/scenarios/counter_check.py
"""


class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        v = self.value
        self.value = v + 1


def setup():
    return Counter()


def thread_a(c):
    c.increment()


def thread_b(c):
    c.increment()


def check(c):
    assert c.value == 2, f"lost update: value {c.value}, expected 2"
