# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""TLS for the uplink (MQTT) and the update fetch (HTTPS), pinned to the fleet's CA.

Off unless ``config.json`` has a ``tls`` section::

    "tls": {"ca": "-----BEGIN CERTIFICATE-----\\n...",   # the fleet CA (PEM, one certificate)
            "server_hostname": "broker.fleet.example"}  # optional: the name the server
                                                        # certificates carry (default: the
                                                        # host connected to)

With it, MQTT goes over TLS (``broker_port`` defaults to 8883) and the update URL must be
``https://``. The fleet CA is the only trust anchor (the device has no system CA store):
the server's certificate must chain to it and carry the expected name, verification is
required (``CERT_REQUIRED``), and a refused certificate is a :class:`TlsError` - an
``OSError``, so the uplink backs off and the loader runs the cached version. Nothing ever
falls back to plaintext: a ``tls`` section that cannot be used refuses every connection.

Written against the API that MicroPython's ``ssl`` (mbedTLS; ESP32 and unix ports) and
CPython's ``ssl`` share: ``SSLContext(PROTOCOL_TLS_CLIENT)``, ``verify_mode``,
``load_verify_locations(cadata=DER)``, ``wrap_socket(sock, server_hostname=...)``.
The certificate is pinned as CA data, not by a fingerprint of the server certificate:
MicroPython's ``SSLSocket`` has no ``getpeercert`` to compare one with.
"""

import binascii

BEGIN = "-----BEGIN CERTIFICATE-----"
END = "-----END CERTIFICATE-----"
DEFAULT_PORT = 8883  # MQTT over TLS (IANA)
MAX_CA_CHARS = 8192


class TlsError(OSError):
    """TLS is configured but cannot be used, or a handshake failed (never plaintext then)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


def pem_to_der(pem, what="tls.ca"):
    """DER bytes of the single certificate in ``pem`` (str); TlsError naming ``what``."""
    if not isinstance(pem, str) or len(pem) > MAX_CA_CHARS:
        raise TlsError("config.json %s: must be a PEM certificate (text)" % what)
    i = pem.find(BEGIN)
    j = pem.find(END)
    if i < 0 or j < i:
        raise TlsError("config.json %s: no PEM certificate (%s ... %s)" % (what, BEGIN, END))
    if pem.find(BEGIN, j) >= 0:
        raise TlsError("config.json %s: one certificate only (the fleet CA)" % what)
    body = "".join(pem[i + len(BEGIN) : j].split())
    try:
        der = binascii.a2b_base64(body.encode())  # bytes: micropython-lib's binascii needs them
    except Exception:  # binascii.Error (ValueError) on both interpreters
        raise TlsError("config.json %s: the certificate is not base64" % what)
    if len(der) < 64 or der[0] != 0x30:  # a DER certificate is an ASN.1 SEQUENCE
        raise TlsError("config.json %s: not a DER certificate inside the PEM" % what)
    return der


def parse_config(cfg):
    """The ``tls`` section of ``config.json`` checked: None (TLS off) or
    ``{"ca_der": bytes, "server_hostname": str or None}``; TlsError naming the field."""
    t = cfg.get("tls")
    if t is None:
        return None
    if not isinstance(t, dict):
        raise TlsError("config.json tls: must be an object with 'ca'")
    for k in t:
        if k not in ("ca", "server_hostname"):
            raise TlsError("config.json tls.%s: unknown field (known: ca, server_hostname)" % k)
    name = t.get("server_hostname")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 253):
        raise TlsError("config.json tls.server_hostname: must be a host name")
    return {"ca_der": pem_to_der(t.get("ca")), "server_hostname": name}


def _reason(e):
    """One line from an exception (mbedTLS messages come wrapped in newlines)."""
    text = " ".join(str(e).split())
    return text or repr(e)


def wrap(ssl, sock, tls, host, port):
    """Handshake over the connected ``sock`` with the fleet CA pinned; the TLS socket.

    ``ssl`` is the interpreter's module (passed in so that only the HAL imports it).
    MicroPython raises ``ValueError`` for a certificate that does not verify and
    ``OSError`` for the rest; both become :class:`TlsError`. The caller closes ``sock``
    when this raises.
    """
    name = tls["server_hostname"] or host
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=tls["ca_der"])
        return ctx.wrap_socket(sock, server_hostname=name)
    except Exception as e:
        raise TlsError(
            "TLS handshake with %s:%d (as %s) failed: %s; not connecting in plaintext"
            % (host, port, name, _reason(e))
        )


def refuse_plaintext(url, tls_configured):
    """TlsError for a plain ``http://`` update URL on a device with TLS configured."""
    if tls_configured and not url.startswith("https://"):
        raise TlsError(
            "update_url %r is not https:// but config.json has a tls section: "
            "not fetching updates in plaintext" % (url[:60],)
        )
