"""Adapters around the core: the MQTT daemon (``mqtt``), the file replayer (``replay``), the demo, the
brokers the demo and tests start (``brokers``, ``minibroker``), and the daemon's settings (``config``)."""
