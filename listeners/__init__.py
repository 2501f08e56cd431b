"""Source connectors: fetch raw payloads politely and normalise them into mentions."""
