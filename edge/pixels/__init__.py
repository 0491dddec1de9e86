"""Frames → people: frame sources (camera, video file, Picamera2), the newest-frame capture thread,
the pose backends and the crops they run on, the pose model's own process, which cores each part
runs on, and recording a video as a keypoint trace. Ends at `edge.people.PoseFrame`.

May import `edge.people`, `edge.trace` and `matcoach.wire`; never `edge.analysis` or
`edge.station`.
"""
