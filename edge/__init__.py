"""The station: a camera frame in, scored reps out to the server. Three subsystems, in the order the
data flows, with one boundary between the first two:

- `edge.pixels`: frames → people (camera, capture, the pose model and where it looks, recording).
- `edge.people` and `edge.trace`: the boundary. `PoseFrame` holds people as keypoints; a trace is
  the same on disk. No pixel of a frame is needed past this point.
- `edge.analysis`: people → the member on the mat → joint angles → reps → scored reps and sets.
- `edge.station`: scored reps → wire events → the outbox → the server; health and the station process.

`edge.analysis` never imports `edge.pixels` or `edge.station`, and `edge.pixels` never imports the
other two (tests/test_layout.py checks it), so the analysis runs the same on a live camera, a video
file and a recorded trace.
"""
