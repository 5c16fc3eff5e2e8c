"""The call pipeline, the same for every wire: decode, check, one transaction, the reply."""
