# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Ed25519 signature verification (RFC 8032) in pure Python, for the boot loader.

Only *verification* lives on the device: the devices hold the fleet's public key, the
private key never leaves the release machine (``fluxfleet.keys``). The arithmetic follows
the reference code of RFC 8032 section 6 (extended twisted-Edwards coordinates). It needs
arbitrary-precision integers (MicroPython's ESP32 build has them); one verification is
two 253-bit scalar multiplications - slow in pure Python (about a second or two on an
ESP32, estimated, not measured here) but done once per boot.

SHA-512 (which Ed25519 needs) comes from ``hashlib`` when the port has it (CPython) and
from the pure-Python :func:`sha512` otherwise (MicroPython's ESP32 ``hashlib`` has only
SHA-1 and SHA-256).
"""

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493


def _pow(b, e, m):
    try:
        return pow(b, e, m)
    except (TypeError, NotImplementedError, ValueError):  # ports without 3-argument pow
        r = 1
        b %= m
        while e:
            if e & 1:
                r = r * b % m
            b = b * b % m
            e >>= 1
        return r


def _inv(x):
    return _pow(x, P - 2, P)


D = -121665 * _inv(121666) % P
_SQRT_M1 = _pow(2, (P - 1) // 4, P)

# --- SHA-512 (FIPS 180-4) for ports without hashlib.sha512 ------------------------------------

_K = (
    0x428A2F98D728AE22, 0x7137449123EF65CD, 0xB5C0FBCFEC4D3B2F, 0xE9B5DBA58189DBBC,
    0x3956C25BF348B538, 0x59F111F1B605D019, 0x923F82A4AF194F9B, 0xAB1C5ED5DA6D8118,
    0xD807AA98A3030242, 0x12835B0145706FBE, 0x243185BE4EE4B28C, 0x550C7DC3D5FFB4E2,
    0x72BE5D74F27B896F, 0x80DEB1FE3B1696B1, 0x9BDC06A725C71235, 0xC19BF174CF692694,
    0xE49B69C19EF14AD2, 0xEFBE4786384F25E3, 0x0FC19DC68B8CD5B5, 0x240CA1CC77AC9C65,
    0x2DE92C6F592B0275, 0x4A7484AA6EA6E483, 0x5CB0A9DCBD41FBD4, 0x76F988DA831153B5,
    0x983E5152EE66DFAB, 0xA831C66D2DB43210, 0xB00327C898FB213F, 0xBF597FC7BEEF0EE4,
    0xC6E00BF33DA88FC2, 0xD5A79147930AA725, 0x06CA6351E003826F, 0x142929670A0E6E70,
    0x27B70A8546D22FFC, 0x2E1B21385C26C926, 0x4D2C6DFC5AC42AED, 0x53380D139D95B3DF,
    0x650A73548BAF63DE, 0x766A0ABB3C77B2A8, 0x81C2C92E47EDAEE6, 0x92722C851482353B,
    0xA2BFE8A14CF10364, 0xA81A664BBC423001, 0xC24B8B70D0F89791, 0xC76C51A30654BE30,
    0xD192E819D6EF5218, 0xD69906245565A910, 0xF40E35855771202A, 0x106AA07032BBD1B8,
    0x19A4C116B8D2D0C8, 0x1E376C085141AB53, 0x2748774CDF8EEB99, 0x34B0BCB5E19B48A8,
    0x391C0CB3C5C95A63, 0x4ED8AA4AE3418ACB, 0x5B9CCA4F7763E373, 0x682E6FF3D6B2B8A3,
    0x748F82EE5DEFB2FC, 0x78A5636F43172F60, 0x84C87814A1F0AB72, 0x8CC702081A6439EC,
    0x90BEFFFA23631E28, 0xA4506CEBDE82BDE9, 0xBEF9A3F7B2C67915, 0xC67178F2E372532B,
    0xCA273ECEEA26619C, 0xD186B8C721C0C207, 0xEADA7DD6CDE0EB1E, 0xF57D4F7FEE6ED178,
    0x06F067AA72176FBA, 0x0A637DC5A2C898A6, 0x113F9804BEF90DAE, 0x1B710B35131C471B,
    0x28DB77F523047D84, 0x32CAAB7B40C72493, 0x3C9EBE0A15C9BEBC, 0x431D67C49C100D4C,
    0x4CC5D4BECB3E42B6, 0x597F299CFC657E2A, 0x5FCB6FAB3AD6FAEC, 0x6C44198C4A475817,
)  # fmt: skip
_H0 = (
    0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
    0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
)  # fmt: skip
_M = 0xFFFFFFFFFFFFFFFF


def _rotr(x, n):
    return ((x >> n) | (x << (64 - n))) & _M


def sha512(data):
    """SHA-512 digest of ``data`` (bytes) in pure Python."""
    data = bytes(data)
    n = len(data)
    data += b"\x80" + bytes((111 - n) % 128) + (8 * n).to_bytes(16, "big")
    h = list(_H0)
    for off in range(0, len(data), 128):
        w = [int.from_bytes(data[off + 8 * i : off + 8 * i + 8], "big") for i in range(16)]
        for i in range(16, 80):
            s0 = _rotr(w[i - 15], 1) ^ _rotr(w[i - 15], 8) ^ (w[i - 15] >> 7)
            s1 = _rotr(w[i - 2], 19) ^ _rotr(w[i - 2], 61) ^ (w[i - 2] >> 6)
            w.append((w[i - 16] + s0 + w[i - 7] + s1) & _M)
        a, b, c, d, e, f, g, hh = h
        for i in range(80):
            t1 = (
                hh
                + (_rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41))
                + ((e & f) ^ ((e ^ _M) & g))  # no ~: negative big ints vary by port
                + _K[i]
                + w[i]
            )
            t2 = (_rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))
            hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M, c, b, a, (t1 + t2) & _M
        h = [(x + y) & _M for x, y in zip(h, (a, b, c, d, e, f, g, hh))]
    return b"".join(x.to_bytes(8, "big") for x in h)


def _sha512(data):
    if hasattr(hashlib, "sha512"):
        return hashlib.sha512(data).digest()
    return sha512(data)


# --- curve arithmetic ------------------------------------------------------------------------


def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(p, q):
    if (p[0] * q[2] - q[0] * p[2]) % P != 0:
        return False
    return (p[1] * q[2] - q[1] * p[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * _inv(D * y * y + 1) % P
    if x2 == 0:
        return None if sign else 0
    x = _pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * _SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


_GY = 4 * _inv(5) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)


def _small_order(p):
    """True if ``[8]p`` is the identity: one of the 8 points of small order."""
    q = _add(_add(p, p), _add(p, p))
    q = _add(q, q)
    return q[0] % P == 0 and (q[1] - q[2]) % P == 0


def check_public_key(public_key):
    """None if ``public_key`` is a usable Ed25519 key; else why not (a string).

    A key of small order (the identity, points of order 2, 4, 8) lets anyone forge a
    "signature" for it (R = identity, S = 0 verifies every message), so it is refused;
    the loader checks the fleet key with this at start.
    """
    if len(public_key) != 32:
        return "must be 32 bytes"
    a = _decompress(bytes(public_key))
    if a is None:
        return "not a point of the curve"
    if _small_order(a):
        return "a point of small order (any signature would verify)"
    return None


def verify(public_key, message, signature):
    """True if ``signature`` (64 bytes) is ``public_key``'s (32 bytes) Ed25519 signature.

    Keys of small order are refused (:func:`check_public_key`)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decompress(bytes(public_key))
    if a is None or _small_order(a):
        return False
    r_bytes = bytes(signature[:32])
    r = _decompress(r_bytes)
    if r is None:
        return False
    s = int.from_bytes(bytes(signature[32:]), "little")
    if s >= L:
        return False
    h = int.from_bytes(_sha512(r_bytes + bytes(public_key) + bytes(message)), "little") % L
    return _equal(_mul(s, G), _add(r, _mul(h, a)))
