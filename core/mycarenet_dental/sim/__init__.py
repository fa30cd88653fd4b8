"""The offline twin of eHealth and MyCareNet: host, population, STS and the service handlers."""
