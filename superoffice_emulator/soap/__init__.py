"""The SOAP side of the emulator: envelopes, operations, replies, and the spyne-generated WSDL."""
