"""Hardware abstraction layer: the only firmware code that imports ``machine``/``network``/M5.

``hal.core2`` is the M5Stack Core2 implementation (imported only on the device).
``hal.host`` is a CPython implementation of the network parts (a TCP transport on the
``socket`` module) used by integration tests and usable by the simulator.

The HAL object the controller receives has (see ``../README.md`` for the contract)::

    hal.co2    read() -> (co2_ppm, t_c, rh_pct) or None; set_pressure(hpa); frc(ppm)
    hal.baro   read() -> (p_hpa, t_c) or None
    hal.light  read() -> lux or None
    hal.servo  angle(deg)             # 0..270
    hal.fan    duty(pct)              # 0..100
    hal.store  get/put/blob            # see storage.py
    hal.net_up() -> bool; hal.net_connect(); hal.ntp_ms() -> int or None
    hal.reboot(); hal.confirm(); optional hal.show(status_dict)

Sensor and actuator methods raise ``OSError`` on a bus error.
"""
