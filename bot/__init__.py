"""rtcops: Slack ChatOps for live video (Volcengine RTC mixed pushes, Tencent TRTC stream ingests)."""
