"""StringIO.__init__ against truncate() on one object (CPython gh-150695).

__init__ resets the object without its critical section while truncate()
holds it: both can reach PyMem_Realloc(self->buf, ...) in resize_buffer()
at once, and the second reallocates a buffer the first already freed.  The
window lies between plain loads and stores of self->buf and
self->buf_size, with no atomic or lock point inside, so only plain-access
points on Modules/_io find it:

    make plain-cpython
    build/bin/ftfuzz explore --plain-accesses harnesses/examples/scenarios/stringio_init_truncate.py
"""
import io


def setup():
    return io.StringIO("initial", newline="\n")


def thread_init(s):
    s.__init__("data", None)


def thread_truncate(s):
    s.truncate(0)
