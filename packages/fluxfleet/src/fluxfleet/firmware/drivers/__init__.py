"""Sensor drivers; each takes an injected I2C bus (``readfrom``/``writeto``) and a sleep."""
