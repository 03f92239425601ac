"""threading.setprofile_all_threads() while another thread exits.

CPython 3.13.5's PyEval_SetProfileAllThreads (Python/ceval.c) walks the
interpreter's thread states holding HEAD_LOCK only to step from one to the
next: a thread that exits in between frees its state, which the walk then
profiles (setup_profile writes into freed memory: SIGSEGV).  The one-point
window of the issue's "profiler race".
"""
import threading


def profile(frame, event, arg):
    pass


def thread_install(_):
    threading.setprofile_all_threads(profile)
    threading.setprofile_all_threads(None)


def thread_exit(_):
    pass
