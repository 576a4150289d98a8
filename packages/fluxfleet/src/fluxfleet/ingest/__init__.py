"""Ingestion: MQTT → validated batches → store; dead letters; live fluxes.

* :mod:`~fluxfleet.ingest.batch` — decodes and validates each message with the firmware's
  :mod:`~fluxfleet.firmware.protocol` and gathers the rows of one commit;
* :mod:`~fluxfleet.ingest.mqtt` — the MQTT v5 client (persistent session, QoS 1, manual
  acknowledgements after the commit, bounded in-flight window);
* :mod:`~fluxfleet.ingest.layout` — the store's samples in soilflux's generic layout
  (shared by ``fluxfleet export`` and the live fluxes);
* :mod:`~fluxfleet.ingest.fluxes` — the live flux worker.
"""
