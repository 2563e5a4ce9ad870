"""libyajl through ctypes: the entry points and the callback table of yajl 2.

The library is the copy ijson's C backend links, so nothing more needs installing.
"""

from __future__ import annotations

import ctypes

__all__ = [
    "OK",
    "BoolEvent",
    "Callbacks",
    "DoubleEvent",
    "Event",
    "IntEvent",
    "TextEvent",
    "load_yajl",
]

Event = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
BoolEvent = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
IntEvent = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_longlong)
DoubleEvent = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_double)
TextEvent = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class Callbacks(ctypes.Structure):
    """yajl 2's ``yajl_callbacks``. yajl reads it through a pointer at every token, so a
    field set to NULL mid-parse stops those calls from there on."""

    _fields_ = [
        ("null", Event),
        ("boolean", BoolEvent),
        ("integer", IntEvent),  # never set: it makes yajl refuse integers beyond 64 bits
        ("double", DoubleEvent),  # never set: it makes yajl refuse doubles that overflow
        ("number", TextEvent),
        ("string", TextEvent),
        ("start_map", Event),
        ("map_key", TextEvent),
        ("end_map", Event),
        ("start_array", Event),
        ("end_array", Event),
    ]


def load_yajl() -> ctypes.CDLL | None:
    """libyajl as ijson's C backend links it, or None (then ijson's own path is used)."""
    try:
        from ijson.backends import _yajl2

        # dlsym on the extension also searches the libraries it was linked against.
        lib = ctypes.CDLL(_yajl2.__file__)
        lib.yajl_alloc.restype = ctypes.c_void_p
        lib.yajl_alloc.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.yajl_parse.restype = ctypes.c_int
        lib.yajl_parse.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.yajl_complete_parse.restype = ctypes.c_int
        lib.yajl_complete_parse.argtypes = [ctypes.c_void_p]
        lib.yajl_get_error.restype = ctypes.c_void_p
        lib.yajl_get_error.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        lib.yajl_free_error.restype = None
        lib.yajl_free_error.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.yajl_free.restype = None
        lib.yajl_free.argtypes = [ctypes.c_void_p]
    except (ImportError, OSError, AttributeError):
        return None
    return lib


OK = 0  # yajl_status_ok
