"""The connectors of the suite, in the order the demo runs them."""

CONNECTORS = ("courier", "pindrop", "customer_thermometer", "aroflo", "xurrent")
