"""mycarenet-dental-billing: eFact third-party-payer billing (message 920000 and its responses)."""

__version__ = "0.1.0"
