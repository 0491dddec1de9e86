"""People → scored reps: choosing and following the member on the mat, smoothing, joint angles,
the lower back's silhouette, rep phases, holds, faults and scores, sets, and the analyzer that
wires them frame by frame. Its thresholds live in `config`.

May import `edge.people` and `edge.trace` only. The lower back reads the camera frame it is handed
(a numpy array), never a camera or a model, so the same analysis runs on a video, a live camera and
a recorded trace.
"""
