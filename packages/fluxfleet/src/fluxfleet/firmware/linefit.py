# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""Least-squares straight line through points added one at a time (the closure's CO2 rise).

Used by the controller's extension rule and its ``cycle`` message (see ``README.md``).
"""


class LineFit:
    """Least-squares line through points added one at a time, in O(1) memory.

    Welford-style running means and co-moments of the points taken relative to the first
    point: numerically stable in single precision (the ESP32 port's float), and the
    result depends on y only through ``y - y_first``, so a constant CO2 offset cannot
    change it (not even by rounding, when the offset and readings are exactly
    representable, as the SCD30's float32 readings are).
    """

    def __init__(self):
        self.n = 0
        self.x0 = 0.0
        self.y0 = 0.0
        self.mx = 0.0  # mean of u = x - x0
        self.my = 0.0  # mean of v = y - y0
        self.cxx = 0.0  # sum of (u - mean u)^2
        self.cxy = 0.0  # sum of (u - mean u)(v - mean v)
        self.cyy = 0.0  # sum of (v - mean v)^2
        self.span = 0.0  # x of the last point minus x of the first

    def add(self, x, y):
        if self.n == 0:
            self.x0 = x
            self.y0 = y
        u = x - self.x0
        v = y - self.y0
        self.n += 1
        du = u - self.mx
        dv = v - self.my
        self.mx += du / self.n
        self.my += dv / self.n
        self.cxx += du * (u - self.mx)
        self.cxy += du * (v - self.my)
        self.cyy += dv * (v - self.my)
        self.span = u

    def slope(self):
        """dy/dx of the fitted line; None with fewer than 3 points or a single x."""
        if self.n < 3 or self.cxx <= 0:
            return None
        return self.cxy / self.cxx

    def r2(self):
        if self.n < 3 or self.cxx <= 0:
            return None
        if self.cyy <= 0:
            return 0.0
        return min(1.0, self.cxy * self.cxy / (self.cxx * self.cyy))

    def change(self):
        """Change of the fitted line from the first to the last point's x (None: no line)."""
        b = self.slope()
        if b is None:
            return None
        return b * self.span
