"""Two threads update one dict with atomic operations: no schedule fails.

    ftfuzz explore harnesses/examples/scenarios/dict_ok.py
"""


def setup():
    return {}


def thread_a(d):
    d["a"] = 1
    d.setdefault("n", 0)


def thread_b(d):
    d["b"] = 2
    d.setdefault("n", 1)


def check(d):
    assert d["a"] == 1 and d["b"] == 2 and d["n"] in (0, 1), d
