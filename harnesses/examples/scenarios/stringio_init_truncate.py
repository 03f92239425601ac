"""StringIO.__init__ against truncate() on one object (CPython gh-150695).

__init__ resets the object without its critical section while truncate()
holds it: both can reach PyMem_Realloc(self->buf, ...) in resize_buffer().
When truncate() has shrunk the buffer (a move: 1,000 characters to 1) but
not yet stored the new pointer, __init__ reallocates the old one, already
freed.  That window lies between plain stores of self->buf_size and
self->buf, with no atomic or lock point inside, so only plain-access
points on Modules/_io find it:

    make plain-cpython
    build/bin/ftfuzz explore --plain-accesses harnesses/examples/scenarios/stringio_init_truncate.py
"""
import io


def setup():
    return io.StringIO("x" * 1000, newline="\n")


def thread_init(s):
    s.__init__("data", None)


def thread_truncate(s):
    try:
        s.truncate(0)
    except ValueError:
        pass    # in the middle of __init__ the object is uninitialised
