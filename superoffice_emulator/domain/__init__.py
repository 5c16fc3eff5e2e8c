"""The rules of the CRM in plain typed Python: no SOAP, no XML, no HTTP."""
