"""Provider targets: one module per kind of provider task (`volcengine`, `tencent`), each implementing the
`Target` protocol of `base`, found through `registry`. See docs/architecture.md."""
