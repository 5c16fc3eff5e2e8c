"""The Services86 contract declared with spyne, from which the WSDL documents are generated."""
