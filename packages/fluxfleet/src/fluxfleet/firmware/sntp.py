# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""SNTP (RFC 4330) packets with millisecond resolution.

MicroPython's ``ntptime`` returns whole seconds; the chamber timestamps are in ms, so the
HAL sends :func:`request` over UDP port 123 and turns the answer into epoch ms with
:func:`parse`, correcting for half the round trip.
"""

NTP_TO_UNIX_S = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def request():
    """A 48-byte client request (LI 0, version 4, mode 3)."""
    return bytes((0x23,)) + bytes(47)


def parse(resp, rtt_ms=0):
    """Unix time [ms] from a server response, plus half the round trip ``rtt_ms``."""
    if len(resp) < 48:
        raise ValueError("SNTP response of %d bytes is shorter than 48" % len(resp))
    mode = resp[0] & 7
    if mode not in (4, 5):
        raise ValueError("SNTP response has mode %d, not server/broadcast" % mode)
    stratum = resp[1]
    if stratum == 0:
        raise ValueError("SNTP kiss-of-death (stratum 0)")
    sec = int.from_bytes(resp[40:44], "big")
    frac = int.from_bytes(resp[44:48], "big")
    if sec == 0:
        raise ValueError("SNTP response without a transmit timestamp")
    return (sec - NTP_TO_UNIX_S) * 1000 + ((frac * 1000) >> 32) + rtt_ms // 2
