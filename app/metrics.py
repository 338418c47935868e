"""Prometheus metrics of one app: messages, latencies, fallbacks, opt-outs, signature failures, duplicates.

Each app has its own registry (tests build many apps in one process).
"""

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.inbound = Counter("migrantinfo_inbound_messages", "Messages received, by channel", ["channel"],
                               registry=r)
        self.outbound = Counter("migrantinfo_outbound_messages", "Messages sent, by channel", ["channel"],
                                registry=r)
        self.duplicates = Counter("migrantinfo_duplicates_absorbed", "Repeated deliveries answered from the store",
                                  registry=r)
        self.signature_failures = Counter("migrantinfo_signature_failures",
                                          "Requests refused for a missing or wrong X-Twilio-Signature", registry=r)
        self.opt_outs = Counter("migrantinfo_opt_outs", "People who wrote STOP or an equivalent", registry=r)
        self.handovers = Counter("migrantinfo_handovers", "Conversations handed to a person (or raised)",
                                 registry=r)
        self.erasures = Counter("migrantinfo_erasures", "People whose data was erased at their request", registry=r)
        self.failures = Counter("migrantinfo_failures", "Messages answered with the apology after a failure",
                                registry=r)
        self.fallbacks = Counter("migrantinfo_engine_fallbacks",
                                 "Messages the embedded engine answered because Rasa could not", registry=r)
        self.webhook_latency = Histogram("migrantinfo_message_seconds", "Time to answer one message",
                                         ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.engine_latency = Histogram("migrantinfo_engine_seconds", "Time of one engine call", ["engine"],
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.action_latency = Histogram("migrantinfo_rasa_action_seconds",
                                        "Time the app's custom action took (inside a Rasa engine call's time)",
                                        buckets=LATENCY_BUCKETS, registry=r)
