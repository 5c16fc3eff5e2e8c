"""Webhooks' delivery: the signed POST (:mod:`.posting`) and the background deliverer (:mod:`.delivery`)."""
