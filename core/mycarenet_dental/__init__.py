"""mycarenet-dental: the core every MyCareNet service plugin for Belgian dentists stands on."""

__version__ = "0.1.0"
