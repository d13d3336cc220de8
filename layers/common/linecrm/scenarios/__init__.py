"""Step scenarios (ステップ配信): definitions (``model``), checks against the channel
(``checks``), the runtime (``engine``) and the admin side (``service``).
See docs/scenarios.md."""
