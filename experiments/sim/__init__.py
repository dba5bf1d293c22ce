"""Calls in virtual time: the simulator and the models it stands on (encoder, quality,
decoder timing) in place of the real codec and clock."""
