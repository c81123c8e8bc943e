"""The SLA fold's machinery behind ``deskbase.support.evaluate``, split by concept (pure: stdlib only).

inputs and outputs are the spec's vocabulary; open_time is business-time arithmetic on integer microseconds;
clocks runs the instances, measures accumulates the response metrics, walk orders the inputs and drives both,
and checkpoint stores the walk's state so a later write can continue it.
"""
