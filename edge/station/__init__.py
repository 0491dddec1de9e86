"""Scored reps → the server: the analyzer's output as wire events, the durable outbox, the uplink
with its retries, `/health` and the systemd watchdog, the station process that wires camera, pose
model, analysis and uplink together, and the live pipeline's benchmark.

May import everything in `edge` and `matcoach.wire`.
"""
