"""Record mode: the recording proxy, its relay, the cassette file and the rules it records."""
